# frozen_string_literal: true

require "json"
require "logger"
require "optparse"

module MailroomJWT
  # The mailroom-jwt command-line tool. CLI.start(argv) runs one command and
  # returns the exit status: 0 on success, 1 when the command failed (a
  # rejected token, an undelivered email, a problem found), 2 on a usage
  # error. Every error is one line on stderr, never a backtrace.
  class CLI
    # A command line that cannot be run as given (exit status 2).
    class UsageError < Error; end

    # The command ran and the answer is "no" (exit status 1), already told.
    class Failure < Error; end

    DEFAULT_ISSUER = "gitlab-mailroom"
    DEFAULT_HEADER = "Gitlab-Mailroom-Api-Request"
    DEFAULT_MAX_AGE = 300

    COMMANDS = {
      "keygen" => "write a new secret file (and how to rotate secrets)",
      "sign" => "print a token made like mail_room's",
      "verify" => "check a token as GitLab does; print its claims or why it is rejected",
      "deliver" => "post an email like mail_room, show the answer",
      "serve" => "run the receiving endpoint (GitLab's internal API) on 127.0.0.1",
      "demo" => "show a whole delivery end to end: accepted, tampered, stale",
      "doctor" => "check the secret files of a GitLab and a mail_room configuration"
    }.freeze

    def self.start(argv, out: $stdout, err: $stderr)
      new(out: out, err: err).run(argv)
    end

    def initialize(out: $stdout, err: $stderr)
      @out = out
      @err = err
    end

    def run(argv)
      argv = argv.dup
      command = argv.shift
      case command
      when nil
        raise UsageError, "no command given; run: mailroom-jwt --help"
      when "-h", "--help", "help"
        @out.puts(usage)
        0
      when "-v", "--version"
        @out.puts("mailroom-jwt #{VERSION}")
        0
      else
        raise UsageError, "unknown command #{command.inspect}; run: mailroom-jwt --help" unless COMMANDS.key?(command)

        send("cmd_#{command}", argv) || 0
      end
    rescue UsageError, OptionParser::ParseError => e
      fail_with(e.message, 2)
    rescue Failure => e
      fail_with(e.message, 1) unless e.message.empty?
      1
    rescue Error, SystemCallError, IOError, ArgumentError => e
      fail_with(e.message, 1)
    rescue Interrupt
      @err.puts
      130
    rescue StandardError => e
      fail_with("unexpected #{e.class}: #{e.message}", 1)
    end

    private

    def fail_with(message, status)
      @err.puts("mailroom-jwt: #{message.lines.first.to_s.chomp}")
      status
    end

    def usage
      width = COMMANDS.keys.map(&:size).max
      <<~TEXT
        Usage: mailroom-jwt COMMAND [options]

        HS256 tokens for GitLab's incoming-email webhook (mail_room -> GitLab).

        Commands:
        #{COMMANDS.map { |name, what| "  #{name.ljust(width)}  #{what}" }.join("\n")}

        Run mailroom-jwt COMMAND --help for the options of each.
      TEXT
    end

    # An OptionParser for one command, with --help. Returns the arguments
    # left, or nil when help was printed.
    def parse(argv, banner, min: 0, max: 0)
      help = false
      parser = OptionParser.new do |opts|
        opts.banner = banner
        opts.separator("")
        yield opts if block_given?
        opts.on("-h", "--help", "show this help") { help = true }
      end
      args = parser.parse(argv)
      if help
        @out.puts(parser.help)
        return nil
      end
      synopsis = banner.lines.first.strip.sub("Usage:", "usage:")
      raise UsageError, "missing argument; #{synopsis}" if args.size < min
      raise UsageError, "unexpected argument #{args[max].inspect}; #{synopsis}" if args.size > max

      args
    end

    def read_input(path)
      path == "-" ? $stdin.binmode.read : File.binread(path)
    rescue Errno::ENOENT
      raise Failure, "#{path}: no such file"
    rescue Errno::EACCES
      raise Failure, "#{path}: permission denied"
    rescue Errno::EISDIR
      raise Failure, "#{path}: is a directory"
    end

    def positive!(value, _name, zero: false)
      return value if value.positive? || (zero && value.zero?)

      raise OptionParser::InvalidArgument, "#{value} (must be a #{zero ? 'non-negative' : 'positive'} whole number)"
    end

    # --- keygen ------------------------------------------------------------

    def cmd_keygen(argv)
      force = false
      args = parse(argv, <<~BANNER.chomp, min: 1, max: 1) { |o| o.on("--force", "replace an existing file") { force = true } }
        Usage: mailroom-jwt keygen PATH [--force]

        Writes a new secret file at PATH: strict base64 of 32 random bytes,
        mode 0600, as GitLab and mail_room read it. Refuses to replace an
        existing file unless --force (the old secret then stops working).
        Prints the secret's fingerprint (safe to share), never the secret.

        Rotating a secret without losing mail, on a running pair:
          1. mailroom-jwt keygen NEW_PATH, then on the receiver (GitLab) make
             the mailbox's secret_file a list [OLD_PATH, NEW_PATH]: it accepts
             tokens made with either.
          2. On the sender (mail_room) set jwt_secret_path to [NEW_PATH, ...]
             (it signs with the first), or copy the new file over its old one:
             the sender picks up a changed file without a restart.
          3. When no token made with the old secret can still be in flight
             (5 minutes), remove OLD_PATH from the receiver's list.
      BANNER
      return 0 if args.nil?

      path = args.first
      if File.exist?(path) && !force
        raise Failure, "#{path} already exists; pass --force to replace it (the old secret stops working)"
      end

      key = Key.generate
      key.write(path)
      @out.puts("wrote a new secret to #{path} (mode 0600, fingerprint #{key.fingerprint})")
      0
    end

    # --- sign ----------------------------------------------------------------

    def sender_options(opts, settings)
      opts.on("--secret-file PATH", "the secret file to sign with (required)") { |v| settings[:secret] = v }
      opts.on("--issuer NAME", "the iss claim (default #{DEFAULT_ISSUER}, as GitLab expects)") do |v|
        settings[:issuer] = v
      end
      opts.on("--audience MAILBOX", "opt-in: add aud (incoming_email or service_desk_email)") do |v|
        settings[:audience] = v
      end
      opts.on("--expires-in SECONDS", Integer, "opt-in: add exp = iat + SECONDS") do |v|
        settings[:expires_in] = positive!(v, "--expires-in")
      end
    end

    def cmd_sign(argv)
      settings = { issuer: DEFAULT_ISSUER }
      args = parse(argv, <<~BANNER.chomp) do |opts|
        Usage: mailroom-jwt sign --secret-file PATH [options]

        Prints a token made exactly like mail_room's: header {"alg":"HS256"},
        claims nonce, iat, iss (plus the opt-in claims asked for).
      BANNER
        sender_options(opts, settings)
        opts.on("--body-file FILE", "opt-in: bind the token to this body (body_sha256)") { |v| settings[:body] = v }
      end
      return 0 if args.nil?
      raise UsageError, "--secret-file is required" unless settings[:secret]

      body = settings[:body] && read_input(settings[:body])
      token = Token.new(header: DEFAULT_HEADER, secret_path: settings[:secret], issuer: settings[:issuer],
                        audience: settings[:audience], bind_body: !body.nil?, expires_in: settings[:expires_in])
      @out.puts(token.token(body: body))
      0
    end

    # --- verify ----------------------------------------------------------

    def cmd_verify(argv)
      settings = { secrets: [], issuer: DEFAULT_ISSUER, max_age: DEFAULT_MAX_AGE, leeway: 0 }
      args = parse(argv, <<~BANNER.chomp, min: 1, max: 1) do |opts|
        Usage: mailroom-jwt verify TOKEN --secret-file PATH [options]

        Checks TOKEN (or - to read it from stdin) as GitLab does: HS256 only,
        the signature, the issuer, an iat no older than --max-age, exp and nbf
        when present. Prints the header and claims, or the reason for the
        rejection with exit status 1.
      BANNER
        opts.on("--secret-file PATH", "a secret the token may be signed with (repeatable)") do |v|
          settings[:secrets] << v
        end
        opts.on("--issuer NAME", "the iss required (default #{DEFAULT_ISSUER})") { |v| settings[:issuer] = v }
        opts.on("--any-issuer", "do not check iss") { settings[:issuer] = nil }
        opts.on("--max-age SECONDS", Integer, "oldest iat accepted (default #{DEFAULT_MAX_AGE}, as GitLab)") do |v|
          settings[:max_age] = positive!(v, "--max-age")
        end
        opts.on("--leeway SECONDS", Integer, "clock skew allowed (default 0, as GitLab)") do |v|
          settings[:leeway] = positive!(v, "--leeway", zero: true)
        end
        opts.on("--audience MAILBOX", "require aud to be this mailbox type") { |v| settings[:audience] = v }
        opts.on("--body-file FILE", "require body_sha256 to match this body") { |v| settings[:body] = v }
      end
      return 0 if args.nil?
      raise UsageError, "--secret-file is required" if settings[:secrets].empty?

      token = args.first == "-" ? $stdin.read.strip : args.first
      keys = settings[:secrets].map { |path| [path, Key.read(path)] }
      body = settings[:body] && read_input(settings[:body])
      path, key, payload, header = check_token(token, keys, settings, body)
      @out.puts(JSON.pretty_generate("header" => header, "payload" => payload))
      @out.puts("valid: signed with #{path} (fingerprint #{key.fingerprint})")
      0
    rescue DecodeError => e
      raise Failure, "rejected: #{e.message} (#{e.class.name.split('::').last})"
    end

    def check_token(token, keys, settings, body)
      path, key, payload, header = nil
      keys.each do |candidate_path, candidate|
        payload, header = candidate.decode_without_claims(token)
        path = candidate_path
        key = candidate
        break
      rescue VerificationError
        raise if candidate_path == keys.last.first
      end
      Claims.verify!(payload, issuer: settings[:issuer], audience: settings[:audience], leeway: settings[:leeway],
                              iat_after: Claims.now - settings[:max_age])
      check_body!(payload, body) if body
      [path, key, payload, header]
    end

    def check_body!(payload, body)
      digest = payload["body_sha256"]
      raise MissingRequiredClaim, "Missing required claim body_sha256" if digest.nil?

      expected = Token.body_digest(body)
      return if digest.is_a?(String) && digest.bytesize == expected.bytesize && Native.mac_equal?(digest, expected)

      raise VerificationError, "body_sha256 does not match the body"
    end

    # --- deliver -------------------------------------------------------------

    def cmd_deliver(argv)
      settings = { issuer: DEFAULT_ISSUER, header: DEFAULT_HEADER, content_type: "text/plain", attempts: 3,
                   timeout: 10 }
      args = parse(argv, <<~BANNER.chomp, min: 1, max: 1) do |opts|
        Usage: mailroom-jwt deliver FILE.eml --url URL --secret-file PATH [options]

        Posts the raw email in FILE.eml (or - for stdin) to URL like mail_room's
        postback, with a token in the #{DEFAULT_HEADER} header, and shows
        the answer. Exit status 0 only on a 2xx answer. Network errors and 5xx
        answers are retried with backoff, a 4xx never.

        Example:
          mailroom-jwt deliver mail.eml --secret-file .gitlab_incoming_email_secret \\
            --url http://127.0.0.1:3000/api/v4/internal/mail_room/incoming_email
      BANNER
        opts.on("--url URL", "where to post (GitLab's .../internal/mail_room/MAILBOX)") { |v| settings[:url] = v }
        sender_options(opts, settings)
        opts.on("--bind", "opt-in: add aud (from the URL) and body_sha256") { settings[:bind] = true }
        opts.on("--header NAME", "the token header (default #{DEFAULT_HEADER})") { |v| settings[:header] = v }
        opts.on("--content-type TYPE", "default text/plain") { |v| settings[:content_type] = v }
        opts.on("--max-attempts N", Integer, "default 3") { |v| settings[:attempts] = positive!(v, "--max-attempts") }
        opts.on("--timeout SECONDS", Integer, "open and read timeout, default 10") do |v|
          settings[:timeout] = positive!(v, "--timeout")
        end
        opts.on("--verbose", "log the delivery line to stderr") { settings[:verbose] = true }
      end
      return 0 if args.nil?
      raise UsageError, "--url is required" unless settings[:url]
      raise UsageError, "--secret-file is required" unless settings[:secret]

      email = read_input(args.first)
      result = deliver(email, settings)
      answer = result.body.to_s.strip
      if result.success?
        @out.puts("delivered: HTTP #{result.status} after #{plural(result.attempts, 'attempt')}: #{answer}")
        return 0
      end

      reason = result.status ? "HTTP #{result.status}: #{answer}" : result.error
      raise Failure, "not delivered after #{plural(result.attempts, 'attempt')}: #{reason}"
    end

    def deliver(email, settings)
      logger = settings[:verbose] ? Logger.new(@err) : Logger.new(File::NULL)
      options = {
        delivery_url: settings[:url], content_type: settings[:content_type], jwt_auth_header: settings[:header],
        jwt_issuer: settings[:issuer], jwt_secret_path: settings[:secret], max_attempts: settings[:attempts],
        open_timeout: settings[:timeout], read_timeout: settings[:timeout], logger: logger,
        jwt_expires_in: settings[:expires_in]
      }
      options[:jwt_audience] = settings[:audience] || (settings[:bind] ? true : nil)
      options[:jwt_body_digest] = true if settings[:bind]
      postback = Postback.new(options.compact)
      postback.deliver_with_result(email)
    ensure
      postback&.close
    end

    def plural(count, word)
      "#{count} #{word}#{'s' unless count == 1}"
    end

    # --- serve -------------------------------------------------------------

    def cmd_serve(argv)
      settings = { host: "127.0.0.1", port: 3000, spool: "mailroom-jwt-spool", secrets: [], mailbox: "incoming_email",
                   server: "puma", leeway: 0 }
      args = parse(argv, <<~BANNER.chomp) { |opts| serve_options(opts, settings) }
        Usage: mailroom-jwt serve (--config FILE | --secret-file PATH) [options]

        Runs GitLab's internal endpoint POST /api/v4/internal/mail_room/MAILBOX
        (MailroomJWT::InternalAPI) on a real Rack server, on 127.0.0.1 unless
        --host says otherwise. Accepted emails go to a spool directory (one
        file each, Maildir style: SPOOL/MAILBOX/new/), or with --redis to
        GitLab's Sidekiq queues as EmailReceiverWorker jobs. One log line per
        request on stderr. Stops on Ctrl-C or SIGTERM.

        The mailboxes come from FILE in gitlab.yml form:
          production:
            incoming_email:
              enabled: true
              address: "incoming+%{key}@example.com"
              secret_file: /etc/gitlab/.gitlab_incoming_email_secret   # or a list
        or, for one mailbox, from --secret-file (repeatable) and --mailbox.
      BANNER
      return 0 if args.nil?

      app, description = build_receiver(settings)
      on_signal do |stopped|
        server = ReceiverServer.new(app, host: settings[:host], port: settings[:port], server: settings[:server]).start
        @out.puts("mailroom-jwt serve: listening on #{server.base_url} (#{settings[:server]})")
        app.authenticator.mailboxes.enabled_types.each { |type| @out.puts("  POST #{server.url(type)}") }
        @out.puts("  queue: #{description}")
        @out.puts("Ctrl-C to stop.")
        @out.flush
        stopped.read(1)
        server.stop
      end
      @out.puts("mailroom-jwt serve: stopped")
      0
    end

    def serve_options(opts, settings)
      opts.on("--config FILE", "the mailboxes, in gitlab.yml form") { |v| settings[:config] = v }
      opts.on("--environment NAME", "the section of FILE (default $RAILS_ENV or production)") do |v|
        settings[:environment] = v
      end
      opts.on("--secret-file PATH", "instead of --config: the secret of one mailbox (repeatable)") do |v|
        settings[:secrets] << v
      end
      opts.on("--mailbox TYPE", "with --secret-file: incoming_email (default) or service_desk_email") do |v|
        settings[:mailbox] = v
      end
      opts.on("--host HOST", "address to listen on (default 127.0.0.1)") { |v| settings[:host] = v }
      opts.on("--port PORT", Integer, "port (default 3000; 0 for any free port)") { |v| settings[:port] = v }
      opts.on("--server NAME", ReceiverServer::SERVERS, "puma (default) or webrick") { |v| settings[:server] = v }
      opts.on("--spool DIR", "spool directory (default ./mailroom-jwt-spool)") { |v| settings[:spool] = v }
      opts.on("--redis URL", "queue to Sidekiq at this Redis URL instead of the spool") { |v| settings[:redis] = v }
      opts.on("--replay-cache KIND", "opt-in: refuse replayed nonces; memory or a redis:// URL") do |v|
        settings[:replay] = v
      end
      opts.on("--require-audience", "opt-in: the token's aud must be the mailbox type") { settings[:aud] = true }
      opts.on("--require-body-digest", "opt-in: the token must carry the body's body_sha256") do
        settings[:digest] = true
      end
      opts.on("--leeway SECONDS", Integer, "clock skew allowed for iat/exp/nbf (default 0)") do |v|
        settings[:leeway] = positive!(v, "--leeway", zero: true)
      end
      opts.on("--max-body-bytes N", Integer, "larger bodies get 413 (default 25 MiB)") do |v|
        settings[:max_body] = positive!(v, "--max-body-bytes")
      end
    end

    def build_receiver(settings)
      mailboxes = receiver_mailboxes(settings)
      logger = Logger.new(@err, progname: "mailroom-jwt", level: Logger::INFO)
      MailroomJWT.logger = logger
      authenticator = Authenticator.new(mailboxes, leeway: settings[:leeway], replay_cache: replay_cache(settings),
                                                   require_audience: settings[:aud], require_body_digest: settings[:digest])
      queue, description = receiver_queue(settings)
      api_options = { authenticator: authenticator, queue: queue, logger: logger }
      api_options[:max_body_bytes] = settings[:max_body] if settings[:max_body]
      [InternalAPI.new(**api_options), description]
    end

    def receiver_mailboxes(settings)
      if settings[:config]
        raise UsageError, "give --config or --secret-file, not both" unless settings[:secrets].empty?

        options = settings[:environment] ? { environment: settings[:environment] } : {}
        return Mailboxes.load_file(settings[:config], **options)
      end
      raise UsageError, "give --config FILE or --secret-file PATH; run: mailroom-jwt serve --help" if settings[:secrets].empty?
      unless Mailboxes::TYPES.include?(settings[:mailbox])
        raise UsageError, "--mailbox must be one of #{Mailboxes::TYPES.join(', ')}"
      end

      Mailboxes.new(settings[:mailbox] => { "enabled" => true, "address" => "#{settings[:mailbox]}@localhost",
                                            "secret_file" => settings[:secrets] })
    end

    def replay_cache(settings)
      case settings[:replay]
      when nil then nil
      when "memory" then ReplayCache::Memory.new
      when %r{\Aredis(s)?://} then ReplayCache::Redis.new(redis_url: settings[:replay])
      else raise UsageError, "--replay-cache must be memory or a redis:// URL"
      end
    end

    def receiver_queue(settings)
      if settings[:redis]
        [Queue::Sidekiq.new(redis_url: settings[:redis]), "Sidekiq at #{Postback.redact(settings[:redis])}"]
      else
        spool = Queue::Spool.new(settings[:spool])
        [spool, "spool #{spool.dir} (one file per email in #{spool.dir}/MAILBOX/new/)"]
      end
    end

    # Yields an IO that becomes readable on SIGINT or SIGTERM.
    def on_signal
      reader, writer = IO.pipe
      previous = %w[INT TERM].to_h { |sig| [sig, trap(sig) { writer.write_nonblock(".", exception: false) }] }
      yield reader
    ensure
      previous&.each { |sig, handler| trap(sig, handler || "DEFAULT") }
      reader&.close
      writer&.close
    end

    # --- demo --------------------------------------------------------------

    def cmd_demo(argv)
      settings = { keep: false, server: "puma" }
      args = parse(argv, <<~BANNER.chomp) do |opts|
        Usage: mailroom-jwt demo [--keep] [--server puma|webrick]

        Shows both ends of the webhook on this machine, with nothing to set
        up: makes a temporary secret, starts the receiver on a free loopback
        port, posts a sample email with a valid token (accepted and queued),
        then with a tampered token (401) and with a stale token (401), and
        shows what happened to each and where the accepted email lies. Then
        removes everything it made. Exit status 0 when all went as shown.
      BANNER
        opts.on("--keep", "keep the temporary directory (secret, spool)") { settings[:keep] = true }
        opts.on("--server NAME", ReceiverServer::SERVERS, "puma (default) or webrick") { |v| settings[:server] = v }
      end
      return 0 if args.nil?

      Demo.new(out: @out, keep: settings[:keep], server: settings[:server]).run ? 0 : 1
    end

    # --- doctor ------------------------------------------------------------

    def cmd_doctor(argv)
      settings = {}
      args = parse(argv, <<~BANNER.chomp) do |opts|
        Usage: mailroom-jwt doctor --config FILE [--mail-room-config FILE] [options]

        Checks the secret file(s) of each enabled mailbox in FILE (GitLab's
        gitlab.yml form: incoming_email and service_desk_email, each with
        enabled, address and secret_file, a path or a list of paths) and, with
        --mail-room-config, each postback mailbox's jwt_secret_path: the file
        exists, holds strict base64 of 32 bytes, is mode 0600, belongs to the
        service user, and mail_room signs with a secret GitLab accepts for
        that mailbox. Says what to fix; exit status 1 when anything needs fixing.
        Secrets are shown only as fingerprints.
      BANNER
        opts.on("--config FILE", "the receiver's configuration (gitlab.yml form)") { |v| settings[:config] = v }
        opts.on("--mail-room-config FILE", "mail_room's YAML configuration") { |v| settings[:mail_room] = v }
        opts.on("--user NAME", "the account the services run as (default: you)") { |v| settings[:user] = v }
        opts.on("--environment NAME", "the section of FILE (default $RAILS_ENV or production)") do |v|
          settings[:environment] = v
        end
      end
      return 0 if args.nil?
      raise UsageError, "--config is required" unless settings[:config]

      require_relative "doctor"
      doctor = Doctor.new(config: settings[:config], mail_room_config: settings[:mail_room],
                          **{ user: settings[:user], environment: settings[:environment] }.compact)
      doctor.run.each { |finding| @out.puts(finding) }
      return 0 if doctor.ok?

      raise Failure, "#{doctor.findings.count { |f| f.level == :problem }} problem(s) found; see above"
    end
  end
end
