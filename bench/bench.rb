# frozen_string_literal: true

# This gem side by side with the real ruby-jwt gem, in one process, on the
# work it exists for: mail_room's token ({"alg":"HS256"} over nonce, iat,
# iss) made by the sender and checked by GitLab.
#
#   bundle exec rake bench                       # the table
#   bundle exec rake bench BENCH_JSON=out.json   # and the figures as JSON
#   ruby -Ilib bench/bench.rb [--json PATH] [--runs N] [--rounds N] [--core BIN]
#
# Each comparison alternates short batches of both sides for a number of
# rounds (a busy machine slows both alike): ops/s of each side and the
# ratio are medians over the rounds; the whole run is repeated (--runs,
# default 3) and every figure reported is the median over the runs. Objects
# allocated per call are GC.stat(:total_allocated_objects) deltas over many
# calls.

require "etc"
require "fileutils"
require "json"
require "openssl"
require "optparse"
require "securerandom"
require "tmpdir"
require "jwt"
require "mail_room/jwt"
require "mailroom_jwt"

module MailroomJWTBench
  ISSUER = "gitlab-mailroom"
  HEADER_NAME = "Gitlab-Mailroom-Api-Request"
  EXPIRATION = 300

  TARGETS = {
    decode_ratio: 20.0,     # Key#decode with claims vs ruby-jwt: at least
    encode_ratio: 12.0,     # Key#encode vs ruby-jwt: at least
    core_ratio: 1.5,        # C core verify / bare precomputed HMAC: at most
    decode_objects: 12,     # per successful Key#decode: at most
    encode_objects: 4,      # per Key#encode, besides the payload's own: at most
    linear_residual: 0.10,  # largest deviation from a straight line, share of the cost at the cap: at most
    reject_vs_accept: 1.10  # rejected / accepted cost, same size (with 10% noise allowance): at most
  }.freeze

  module_function

  def clock
    Process.clock_gettime(Process::CLOCK_MONOTONIC)
  end

  def run_batch(callable, count)
    i = 0
    t0 = clock
    while i < count
      callable.call
      i += 1
    end
    clock - t0
  end

  # A batch size that takes about `seconds`.
  def calibrate(callable, seconds)
    count = 16
    loop do
      elapsed = run_batch(callable, count)
      return [(count * seconds / elapsed).ceil, 1].max if elapsed > seconds / 4

      count *= 4
    end
  end

  def median(values)
    sorted = values.sort
    mid = sorted.size / 2
    sorted.size.odd? ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2.0
  end

  def allocations(callable, count = 2000)
    callable.call
    before = GC.stat(:total_allocated_objects)
    i = 0
    while i < count
      callable.call
      i += 1
    end
    (GC.stat(:total_allocated_objects) - before).fdiv(count)
  end

  # ops/s of each side and the median per-round ratio ours/theirs.
  def compare(ours, theirs, rounds:, batch_seconds:)
    n_ours = calibrate(ours, batch_seconds)
    n_theirs = calibrate(theirs, batch_seconds)
    run_batch(theirs, n_theirs)
    run_batch(ours, n_ours)
    ours_ops = []
    theirs_ops = []
    ratios = []
    rounds.times do
      t = n_theirs / run_batch(theirs, n_theirs)
      o = n_ours / run_batch(ours, n_ours)
      theirs_ops << t
      ours_ops << o
      ratios << o / t
    end
    { ours_ops: median(ours_ops), theirs_ops: median(theirs_ops), ratio: median(ratios),
      ours_objects: allocations(ours), theirs_objects: allocations(theirs) }
  end

  # ns per call of several callables, alternated per round: one Array of
  # per-round samples for each.
  def timing_samples(callables, rounds:, batch_seconds:)
    counts = callables.map { |c| calibrate(c, batch_seconds) }
    samples = callables.map { [] }
    rounds.times do
      callables.each_with_index do |c, i|
        samples[i] << (run_batch(c, counts[i]) * 1e9 / counts[i])
      end
    end
    samples
  end

  def timings(callables, rounds:, batch_seconds:)
    timing_samples(callables, rounds: rounds, batch_seconds: batch_seconds).map { |s| median(s) }
  end

  # The median over rounds of a / b, each round's pair measured back to back.
  def median_ratio(a_samples, b_samples)
    median(a_samples.zip(b_samples).map { |a, b| a / b })
  end

  # MailroomJWT::<name> when this tree has it (autoloaded or required by
  # feature); nil otherwise.
  def optional(name, feature)
    return MailroomJWT.const_get(name) if MailroomJWT.const_defined?(name)

    require feature
    MailroomJWT.const_defined?(name) ? MailroomJWT.const_get(name) : nil
  rescue LoadError, NameError
    nil
  end

  class Run
    attr_reader :results

    def initialize(rounds:, batch_seconds:, core_bin:)
      @rounds = rounds
      @batch = batch_seconds
      @core_bin = core_bin
      @results = { "machine" => machine, "comparisons" => {}, "sizes" => [], "core" => nil }
      @dir = Dir.mktmpdir("mailroom-jwt-bench")
      @secret = SecureRandom.random_bytes(32)
      @secret_path = File.join(@dir, "incoming_email_secret")
      File.write(@secret_path, [@secret].pack("m0"))
      File.chmod(0o600, @secret_path)
      @key = MailroomJWT::Key.new(@secret)
      @payload = { nonce: SecureRandom.hex(12), iat: Time.now.to_i, iss: ISSUER }
      @token = JWT.encode(@payload, @secret, "HS256")
      raise "the two gems disagree on the token" unless @key.encode(@payload) == @token

      @iat_after = Time.now - EXPIRATION
    end

    def machine
      { "ruby" => RUBY_DESCRIPTION, "openssl" => OpenSSL::OPENSSL_LIBRARY_VERSION, "jwt" => JWT::VERSION::STRING,
        "json" => JSON::VERSION, "mailroom_jwt" => MailroomJWT::VERSION, "cpus" => Etc.nprocessors }
    end

    def run
      comparisons
      sizes
      core
      results
    ensure
      FileUtils.remove_entry(@dir) if @dir && File.directory?(@dir)
    end

    def compare(name, ours, theirs)
      print "  #{name}..."
      $stdout.flush
      result = MailroomJWTBench.compare(ours, theirs, rounds: @rounds, batch_seconds: @batch)
      @results["comparisons"][name] = result.transform_keys(&:to_s)
      puts " #{format('%.1fx', result[:ratio])}"
    end

    def not_available(name, why)
      puts "  #{name}: not available (#{why})"
      @results["comparisons"][name] = { "not_available" => why }
    end

    # GitLab's Gitlab::JwtAuthenticatable.decode_jwt with issuer and iat_after.
    def gitlab_decode(token, secret, iat_after)
      decoded = JWT.decode(token, secret, true, { algorithm: "HS256", iss: ISSUER, verify_iss: true,
                                                  verify_iat: true })
      raise JWT::ExpiredSignature, "Token has expired" if decoded[0]["iat"].to_i < iat_after.to_i

      decoded
    end

    def comparisons
      puts "Comparisons (#{@rounds} rounds each):"
      key = @key
      secret = @secret
      payload = @payload
      token = @token
      iat_after = @iat_after
      bad_mac = token.dup
      bad_mac[-10] = bad_mac[-10] == "A" ? "B" : "A"
      garbage = "garbage, not a token at all"

      compare("encode", -> { key.encode(payload) }, -> { JWT.encode(payload, secret, "HS256") })
      compare("decode with claims",
              -> { key.decode(token, issuer: ISSUER, iat_after: iat_after) },
              -> { gitlab_decode(token, secret, iat_after) })
      compare("reject bad MAC",
              lambda do
                key.decode(bad_mac, issuer: ISSUER, iat_after: iat_after)
              rescue MailroomJWT::VerificationError
                nil
              end,
              lambda do
                gitlab_decode(bad_mac, secret, iat_after)
              rescue JWT::VerificationError
                nil
              end)
      compare("reject garbage",
              lambda do
                key.decode(garbage, issuer: ISSUER, iat_after: iat_after)
              rescue MailroomJWT::DecodeError
                nil
              end,
              lambda do
                gitlab_decode(garbage, secret, iat_after)
              rescue JWT::DecodeError
                nil
              end)
      token_comparison
      authenticator_comparison
    end

    # The sender: MailroomJWT::Token#token vs mail_room's MailRoom::JWT#token,
    # which reads and decodes the secret file for every email.
    def token_comparison
      token_class = MailroomJWTBench.optional(:Token, "mailroom_jwt/token")
      return not_available("Token#token", "MailroomJWT::Token is not in this tree") unless token_class

      ours = token_class.new(header: HEADER_NAME, secret_path: @secret_path, issuer: "mailroom", algorithm: "HS256")
      theirs = MailRoom::JWT.new(header: HEADER_NAME, secret_path: @secret_path, issuer: "mailroom",
                                 algorithm: "HS256")
      compare("Token#token", -> { ours.token }, -> { theirs.token })
    rescue StandardError => e
      not_available("Token#token", "#{e.class}: #{e.message}")
    end

    # The receiver: Authenticator#verify_api_request vs GitLab's path (the
    # header, JWT.decode with the memoized secret, the iat check).
    def authenticator_comparison
      authenticator = MailroomJWTBench.optional(:Authenticator, "mailroom_jwt/authenticator")
      mailboxes = MailroomJWTBench.optional(:Mailboxes, "mailroom_jwt/mailboxes")
      unless authenticator && mailboxes
        return not_available("Authenticator#verify_api_request", "MailroomJWT::Authenticator is not in this tree")
      end

      gitlab_token = JWT.encode({ nonce: SecureRandom.hex(12), iat: Time.now.to_i, iss: ISSUER }, @secret, "HS256")
      config = { incoming_email: { enabled: true, address: "incoming+%{key}@example.com", secret_file: @secret_path } }
      ours = authenticator.new(mailboxes.new(config))
      headers = { HEADER_NAME => gitlab_token }
      secret = @secret
      raise "Authenticator refused a good token" unless ours.verify_api_request(headers, "incoming_email")

      gitlab = lambda do
        gitlab_decode(headers[HEADER_NAME], secret, Time.now - EXPIRATION)
      rescue JWT::DecodeError
        false
      end
      compare("Authenticator#verify_api_request",
              -> { ours.verify_api_request(headers, "incoming_email") }, gitlab)
    rescue StandardError => e
      not_available("Authenticator#verify_api_request", "#{e.class}: #{e.message}")
    end

    # Key#decode (with claims) of accepted and bad-MAC tokens padded to
    # several sizes up to the cap; Key#verify of both. All sizes run in
    # every round, so that a busy spell weighs on all of them.
    def sizes
      puts "By token size (#{@rounds * 2} rounds)..."
      key = @key
      iat_after = @iat_after
      cases = [256, 1024, 4096, 8192, MailroomJWT::Native::TOKEN_MAX].map do |size|
        good = padded_token(size)
        bad = good.dup
        bad[-10] = bad[-10] == "A" ? "B" : "A"
        raise "size case broken" unless key.verify(good) && !key.verify(bad)

        reject = lambda do
          key.decode(bad, issuer: ISSUER, iat_after: iat_after)
        rescue MailroomJWT::VerificationError
          nil
        end
        [good.bytesize, [-> { key.decode(good, issuer: ISSUER, iat_after: iat_after) }, reject,
                         -> { key.verify(good) }, -> { key.verify(bad) }]]
      end
      samples = MailroomJWTBench.timing_samples(cases.flat_map(&:last), rounds: @rounds * 2,
                                                                      batch_seconds: @batch / 5)
      cases.each_with_index do |(bytes, _), i|
        s = samples[i * 4, 4]
        row = s.map { |x| MailroomJWTBench.median(x) }
        @results["sizes"] << { "token_bytes" => bytes, "decode_ns" => row[0], "decode_bad_mac_ns" => row[1],
                               "verify_ns" => row[2], "verify_bad_mac_ns" => row[3],
                               "decode_reject_ratio" => MailroomJWTBench.median_ratio(s[1], s[0]),
                               "verify_reject_ratio" => MailroomJWTBench.median_ratio(s[3], s[2]) }
        puts format("  %6d bytes: decode %8.0f ns, rejected %8.0f ns; verify %8.0f ns, false %8.0f ns", bytes, *row)
      end
      # Straight line or not, judged round by round (the sizes of one round
      # ran within a fraction of a second of each other), then the median.
      residuals = (0...(@rounds * 2)).map do |r|
        MailroomJWTBench.linear_residual(cases.each_with_index.map { |(bytes, _), i| [bytes, samples[i * 4][r]] })
      end
      @results["decode_linear_residual"] = MailroomJWTBench.median(residuals)
    end

    # A mail_room token with a "pad" claim: at most size bytes, close to it.
    def padded_token(size)
      payload = { "nonce" => SecureRandom.hex(12), "iat" => Time.now.to_i, "iss" => ISSUER }
      pad = ((size - @key.encode(payload).bytesize) * 3 / 4) - 8
      loop do
        begin
          token = @key.encode(pad.positive? ? payload.merge("pad" => "x" * pad) : payload)
          return token if token.bytesize <= size || !pad.positive?
        rescue MailroomJWT::EncodeError
          nil # over the cap
        end
        pad -= 1
      end
    end

    def core
      unless @core_bin && File.executable?(@core_bin)
        puts "C core: not available (build it with rake bench:core)"
        return
      end
      puts "C core (#{@core_bin})..."
      out = IO.popen([@core_bin, "--json"], &:read)
      raise "core benchmark failed" unless $?.success?

      @results["core"] = JSON.parse(out)
    end

  end

  # Least-squares line through (bytes, ns): the largest distance of a point
  # from it, as a share of the largest cost (the one at the cap). Growth
  # faster than linear shows as a bow; a fixed cost per call does not count.
  def linear_residual(points)
    n = points.size.to_f
    mx = points.sum { |x, _| x } / n
    my = points.sum { |_, y| y } / n
    slope = points.sum { |x, y| (x - mx) * (y - my) } / points.sum { |x, _| (x - mx)**2 }
    intercept = my - (slope * mx)
    top = points.map(&:last).max
    points.map { |x, y| (y - (intercept + (slope * x))).abs / top }.max
  end

  def targets(results)
    c = results["comparisons"]
    t = {}
    t["decode_ratio"] = target(c["decode with claims"]["ratio"], TARGETS[:decode_ratio], :min)
    t["encode_ratio"] = target(c["encode"]["ratio"], TARGETS[:encode_ratio], :min)
    t["decode_objects"] = target(c["decode with claims"]["ours_objects"], TARGETS[:decode_objects], :max)
    t["encode_objects"] = target(c["encode"]["ours_objects"], TARGETS[:encode_objects], :max)
    rows = results["sizes"]
    t["decode_linear_residual"] = target(results["decode_linear_residual"], TARGETS[:linear_residual], :max)
    t["decode_reject_vs_accept"] = target(rows.map { |r| r["decode_reject_ratio"] }.max,
                                          TARGETS[:reject_vs_accept], :max)
    t["verify_reject_vs_accept"] = target(rows.map { |r| r["verify_reject_ratio"] }.max,
                                          TARGETS[:reject_vs_accept], :max)
    core = results["core"]
    return t unless core

    t["core_ratio"] = target(core["verify_ratio"], TARGETS[:core_ratio], :max)
    sizes = core["sizes"]
    t["core_linear_residual"] = target(linear_residual(sizes.map { |r| [r["token_bytes"], r["core_open_ns"]] }),
                                       TARGETS[:linear_residual], :max)
    t["core_reject_vs_accept"] = target(sizes.map { |r| r["core_open_bad_mac_ns"] / r["core_open_ns"] }.max,
                                        TARGETS[:reject_vs_accept], :max)
    t
  end

  def target(value, limit, kind)
    holds = kind == :min ? value >= limit : value <= limit
    { "value" => value.round(3), "limit" => limit, "kind" => kind.to_s, "holds" => holds }
  end

  # The median of each figure over several runs, in the shape of one run.
  def merge_median(values)
    first = values.first
    case first
    when Numeric then median(values)
    when Hash then first.keys.to_h { |k| [k, merge_median(values.map { |v| v[k] })] }
    when Array then first.each_index.map { |i| merge_median(values.map { |v| v[i] }) }
    else first
    end
  end

  def report(results)
    puts
    puts format("%-34s %14s %14s %8s %10s %10s", "", "mailroom_jwt", "ruby-jwt", "ratio", "objects", "objects")
    puts format("%-34s %14s %14s %8s %10s %10s", "", "ops/s", "ops/s", "", "ours", "ruby-jwt")
    results["comparisons"].each do |name, r|
      if r["not_available"]
        puts format("%-34s %s", name, "not available (#{r['not_available']})")
        next
      end
      puts format("%-34s %14.0f %14.0f %7.1fx %10.1f %10.1f", name, r["ours_ops"], r["theirs_ops"], r["ratio"],
                  r["ours_objects"], r["theirs_objects"])
    end
    if (core = results["core"])
      puts
      puts format("C core, %d-byte token: verify %.0f ns, bare precomputed HMAC %.0f ns: %.2fx " \
                  "(full open %.0f ns: %.2fx; one-shot HMAC() %.0f ns)",
                  core["token_bytes"], core["core_verify_ns"], core["bare_hmac_ns"], core["verify_ratio"],
                  core["core_open_ns"], core["open_ratio"], core["oneshot_hmac_ns"])
    end
    puts
    puts "Targets (figures are medians of #{results['runs']} runs):"
    results["targets"].each do |name, t|
      sign = t["kind"] == "min" ? ">=" : "<="
      puts format("  %-26s %10.3f %s %-6s %s", name, t["value"], sign, t["limit"], t["holds"] ? "holds" : "DOES NOT HOLD")
    end
  end

  def main(argv)
    options = { json: ENV.fetch("BENCH_JSON", nil), rounds: Integer(ENV.fetch("BENCH_ROUNDS", "9")),
                runs: Integer(ENV.fetch("BENCH_RUNS", "3")),
                batch: Float(ENV.fetch("BENCH_BATCH_SECONDS", "0.05")), core: ENV.fetch("BENCH_CORE", nil) }
    OptionParser.new do |o|
      o.on("--json PATH", "also write the figures as JSON") { |v| options[:json] = v }
      o.on("--runs N", Integer, "whole runs; the figures are their medians (default 3)") { |v| options[:runs] = v }
      o.on("--rounds N", Integer, "rounds per comparison (default 9)") { |v| options[:rounds] = v }
      o.on("--batch SECONDS", Float, "seconds per batch (default 0.05)") { |v| options[:batch] = v }
      o.on("--core BIN", "the compiled core benchmark (rake bench:core builds it)") { |v| options[:core] = v }
    end.parse!(argv)

    runs = Array.new(options[:runs]) do |i|
      puts "Run #{i + 1} of #{options[:runs]}"
      Run.new(rounds: options[:rounds], batch_seconds: options[:batch], core_bin: options[:core]).run
    end
    results = merge_median(runs)
    results["runs"] = options[:runs]
    results["rounds"] = options[:rounds]
    results["targets"] = targets(results)
    report(results)
    return unless options[:json]

    File.write(options[:json], "#{JSON.pretty_generate(results)}\n")
    puts "\nFigures written to #{options[:json]}"
  end
end

MailroomJWTBench.main(ARGV) if $PROGRAM_NAME == __FILE__
