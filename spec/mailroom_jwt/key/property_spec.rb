# frozen_string_literal: true

require "stringio"
require "tmpdir"
require "mailroom_jwt/cli"

# Random inputs and random mutations of valid tokens and secret files: the
# public entry points (Key#decode, #verify, Key.read, MailroomJWT.decode and
# the CLI's verify) either answer or raise an error of the gem's own
# hierarchy (Key#verify never raises at all; the CLI answers with an exit
# status and one line on stderr), never crash and never hang.
# The seed comes from RSpec's (--seed reproduces a failure).
RSpec.describe MailroomJWT::Key, "under random input" do
  let(:rng) { Random.new(RSpec.configuration.seed) }
  let(:key) { described_class.new("property-spec key: 32 bytes long") }
  let(:other_key) { described_class.new("another key, also 32 bytes long!") }
  let(:now) { Process.clock_gettime(Process::CLOCK_REALTIME, :second) }
  let(:valid_tokens) do
    [
      key.encode({ "nonce" => "0123456789abcdef01234567", "iat" => now, "iss" => "gitlab-mailroom" }),
      key.encode({ "iss" => "mailroom", "aud" => %w[incoming_email service_desk_email], "exp" => now + 86_400 },
                 { "typ" => "JWT", "kid" => "k1" }),
      key.encode({ "a" => [1, 2.5, { "b" => "\u00e9\u{1F600}" }, nil, true] }),
      key.encode({ "body_sha256" => "x" * 43, "iat" => now, "nbf" => now - 5 })
    ]
  end

  # Every way the gem opens a token, with the claim checks switched on.
  def open_all_ways(token)
    [
      outcome { key.decode(token, issuer: "gitlab-mailroom", iat_after: now - 300, leeway: 1) },
      outcome { key.decode(token) },
      outcome { key.decode_without_claims(token) },
      outcome { key.decode_without_claims(token, verify_signature: false) },
      outcome { MailroomJWT.decode(token, key) },
      outcome { MailroomJWT.decode(token, "property-spec key: 32 bytes long", true, verify_iat: true) },
      outcome { MailroomJWT.decode(token, nil, false) }
    ]
  end

  it "answers random bytes with false from verify and a gem error from decode" do
    Timeout.timeout(120) do
      scaled(3000).times do
        len = rng.rand(4) == 0 ? rng.rand(16_000..20_000) : rng.rand(0..300)
        token = rng.bytes(len)
        token.force_encoding([Encoding::UTF_8, Encoding::BINARY, Encoding::US_ASCII].sample(random: rng))
        expect(key.verify(token)).to be(false)
        open_all_ways(token).each do |kind, value|
          expect(kind).to eq(:error), "random bytes #{token.b.inspect[0, 80]} decoded to #{value.inspect}"
        end
      end
    end
  end

  it "answers random strings over the token alphabet without raising anything else" do
    alphabet = HardeningHelpers::B64URL + ["."] * 6
    Timeout.timeout(120) do
      scaled(3000).times do
        token = Array.new(rng.rand(0..400)) { alphabet.sample(random: rng) }.join
        expect(key.verify(token)).to be(false)
        open_all_ways(token).first(5).each do |kind, value|
          expect(kind).to eq(:error), "#{token.inspect} decoded to #{value.inspect}"
        end
      end
    end
  end

  it "rejects every mutation of a valid token: verify is false, decode raises a gem error" do
    Timeout.timeout(300) do
      scaled(4000).times do
        original = valid_tokens.sample(random: rng)
        token = mutate(original, rng)
        next if token == original.b # a mutation may give the token back (swap of equal parts)

        expect(key.verify(token)).to be(false), "a mutated token verified: #{token.inspect[0, 200]}"
        [
          outcome { key.decode(token, verify_expiration: false) },
          outcome { key.decode_without_claims(token) },
          outcome { MailroomJWT.decode(token, key) }
        ].each do |kind, value|
          expect(kind).to eq(:error), "a mutated token decoded: #{token.inspect[0, 200]} -> #{value.inspect}"
        end
        # Without signature checks, the answer is a [payload, header] pair or a gem error.
        kind, value = outcome { key.decode_without_claims(token, verify_signature: false) }
        expect(value).to match([an_instance_of(Hash), an_instance_of(Hash)]) if kind == :ok
      end
    end
  end

  it "verifies the unmutated tokens, so the rejections above are the mutations' doing" do
    valid_tokens.each do |token|
      expect(key.verify(token)).to be(true)
      expect(other_key.verify(token)).to be(false)
      expect(key.decode(token, verify_expiration: true)).to match([an_instance_of(Hash), a_hash_including("alg" => "HS256")])
    end
  end

  it "never raises from verify, whatever object it is given" do
    objects = [nil, 1, 1.5, :sym, [], {}, Object.new, "x" * 2_000_000, "\u3042" * 100, "a.b.c".encode("UTF-16LE"),
               "a.b.c".encode("UTF-32BE"), valid_tokens.first.encode("UTF-16LE")]
    objects.each do |object|
      expect(key.verify(object)).to be(false), "verify(#{object.inspect[0, 60]}) was not false"
    end
    objects.each do |object|
      kind, = outcome { key.decode(object) }
      expect(kind).to eq(:error)
    end
    # The same bytes under another ASCII-compatible encoding are the same token.
    expect(key.verify(valid_tokens.first.b)).to be(true)
  end

  describe "the CLI's verify" do
    around do |example|
      Dir.mktmpdir("mailroom-jwt-property-cli") do |dir|
        @secret_path = File.join(dir, "secret")
        key.write(@secret_path)
        example.run
      end
    end

    # [exit status, stdout, stderr] of `mailroom-jwt verify TOKEN`, in process.
    def cli_verify(token)
      out = StringIO.new
      err = StringIO.new
      status = MailroomJWT::CLI.new(out: out, err: err).run(["verify", token, "--secret-file", @secret_path])
      [status, out.string, err.string]
    end

    it "accepts a valid token, and answers every mutation with a one-line rejection, never an exception" do
      valid = valid_tokens.first
      status, out, err = cli_verify(valid)
      expect([status, err]).to eq([0, ""])
      expect(out).to match(/^valid\b.*: signed with #{Regexp.escape(@secret_path)} /)
      Timeout.timeout(120) do
        scaled(800).times do
          token = rng.rand(4).zero? ? rng.bytes(rng.rand(0..200)) : mutate(valid, rng)
          next if token == valid.b

          status, out, err = cli_verify(token)
          expect(status).to eq(1).or(eq(2)), "verify #{token.inspect[0, 120]} exited #{status}: #{out}#{err}"
          expect(err.lines.size).to eq(1), "verify #{token.inspect[0, 120]} wrote #{err.inspect[0, 300]}"
          expect(err).to start_with("mailroom-jwt: ")
          expect(err.b).not_to match(/\.rb:\d+/n) # no backtrace
          expect(out).to eq("")
        end
      end
    end

    it "does the same as the real executable, for a sample of mutations" do
      valid = valid_tokens.first
      scaled(6, min: 3).times do
        # On stdin ("-"), which the CLI strips: any bytes, and no raw bytes
        # on a command line (valgrind copies argv into its XML report).
        token = mutate(valid, rng)
        next if token.strip == valid.b

        run = run_cli("verify", "-", "--secret-file", @secret_path, stdin: token, timeout: 30)
        expect(run.exitstatus).to eq(1).or(eq(2)), "exit #{run.exitstatus}: #{run.err}"
        expect(run.err.lines.size).to eq(1)
        expect(run.err).to start_with("mailroom-jwt: ")
      end
      expect(run_cli("verify", valid, "--secret-file", @secret_path).exitstatus).to eq(0)
    end
  end

  describe "Key.read" do
    around do |example|
      Dir.mktmpdir("mailroom-jwt-property") do |dir|
        @dir = dir
        example.run
      end
    end

    # What the contract accepts: strict base64 of 32 bytes, one line ending.
    def oracle(content)
      body = content.b.chomp
      return nil if content.b.end_with?("\n\n", "\r\r", "\n\r")

      decoded = body.unpack1("m0")
      decoded.bytesize == 32 ? decoded : nil
    rescue ArgumentError
      nil
    end

    def read_content(content)
      path = File.join(@dir, "secret")
      File.binwrite(path, content)
      File.chmod(0o600, path)
      outcome { described_class.read(path, logger: nil) }
    end

    it "accepts exactly the files the contract accepts, for random mutations of a valid file" do
      good = [rng.bytes(32)].pack("m0")
      Timeout.timeout(120) do
        scaled(2000).times do
          content = rng.rand(5).zero? ? rng.bytes(rng.rand(0..100)) : mutate(good + ["", "\n", "\r\n"].sample(random: rng), rng)
          kind, value = read_content(content)
          expected = oracle(content)
          if expected
            expect(kind).to eq(:ok), "#{content.inspect} was refused: #{value.inspect}"
            expect(value).to eq(described_class.new(expected))
          else
            expect(kind).to eq(:error), "#{content.inspect} was accepted"
            expect(value).to be_a(MailroomJWT::SecretFileError)
            body = content.b.strip
            expect(value.message.b).not_to include(body) if body.bytesize >= 8
          end
        end
      end
    end

    it "answers random paths with a SecretFileError" do
      Timeout.timeout(120) do
        scaled(1000).times do
          path = "#{@dir}/#{rng.bytes(rng.rand(1..300))}"
          path = path.encode("UTF-16LE", invalid: :replace, undef: :replace) if rng.rand(10).zero?
          kind, value = outcome { described_class.read(path, logger: nil) }
          expect(kind).to eq(:error), "reading #{path.inspect} returned #{value.inspect}"
          expect(value).to be_a(MailroomJWT::SecretFileError)
        end
      end
    end
  end
end
