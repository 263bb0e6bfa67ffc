# frozen_string_literal: true

require "json"

module MailroomJWT
  # GitLab's internal mail_room endpoint as a Rack application:
  #
  #   POST /api/v4/internal/mail_room/:mailbox_type   (body: the raw email)
  #
  #   app = MailroomJWT::InternalAPI.new(
  #     authenticator: MailroomJWT::Authenticator.new(MailroomJWT::Mailboxes.load_file("config/gitlab.yml")),
  #     queue: MailroomJWT::Queue::Sidekiq.new(redis_url: ENV.fetch("REDIS_URL"))
  #   )
  #   run app                                    # config.ru
  #   mount app, at: "/api/v4/internal/mail_room" # Rails routes (any mount point works)
  #
  # The path is matched at the end of SCRIPT_NAME + PATH_INFO, so the app
  # answers the same below any mount point. Answers (JSON bodies):
  # - 404 for other paths, 405 for other methods (before anything else);
  # - 401 {"message":"401 Unauthorized"} on any authentication failure:
  #   unknown or disabled mailbox, no token, bad token (checked from the
  #   header, before the body is read), then, when the token binds the body
  #   or replay protection is on, a body digest mismatch or a replayed nonce;
  # - 413 when the body is over max_body_bytes (Content-Length checked
  #   before reading, and the body while reading);
  # - 200 {"success":true} once the queue has the email (converted to UTF-8);
  # - 400 with GitLab's "too large" message when the queue says TooLarge;
  # - 503 with a JSON error when the queue (or the replay cache) is
  #   unavailable: the sender retries, nothing is lost;
  # - 500 when the receiver's own configuration is broken (logged).
  # It logs one JSON line per request (mailbox type, status, bytes, reason
  # on failure, duration), never a token or a body.
  class InternalAPI
    PATH = %r{/api/v4/internal/mail_room/(.+)\z}.freeze
    DEFAULT_MAX_BODY_BYTES = 25 * 1024 * 1024
    CHUNK = 64 * 1024
    TOO_LARGE_MESSAGE = "We couldn't process your email because it is too large. " \
                        "Please create your issue or comment through the web interface."

    attr_reader :authenticator, :queue, :max_body_bytes

    def initialize(authenticator:, queue:, max_body_bytes: DEFAULT_MAX_BODY_BYTES, logger: MailroomJWT.logger)
      unless max_body_bytes.is_a?(Integer) && max_body_bytes.positive?
        raise ArgumentError, "max_body_bytes must be a positive Integer"
      end
      raise ArgumentError, "queue must respond to #push(mailbox_type, raw_email)" unless queue.respond_to?(:push)

      @authenticator = authenticator
      @queue = queue
      @max_body_bytes = max_body_bytes
      @logger = logger
    end

    def call(env)
      started = Process.clock_gettime(Process::CLOCK_MONOTONIC)
      log = { mailbox_type: nil, bytes: 0 }
      status, headers, body = handle(env, log)
      log_request(log, status, started)
      [status, headers, body]
    end

    def inspect
      "#<#{self.class.name} max_body_bytes=#{@max_body_bytes} queue=#{@queue.class.name}>"
    end

    private

    def handle(env, log)
      match = PATH.match("#{env['SCRIPT_NAME']}#{env['PATH_INFO']}")
      return respond(log, 404, { message: "404 Not Found" }, "no such route") unless match
      unless env["REQUEST_METHOD"] == "POST"
        return respond(log, 405, { message: "405 Method Not Allowed" }, "method not allowed", "allow" => "POST")
      end

      mailbox_type = match[1]
      log[:mailbox_type] = Claims.describe(mailbox_type)
      deliver(env, mailbox_type, log)
    rescue SecretConfigurationError => e
      respond(log, 500, { message: "500 Internal Server Error" }, "secret configuration: #{e.message}")
    rescue StandardError => e
      respond(log, 500, { message: "500 Internal Server Error" }, "internal error: #{e.class.name}")
    end

    def deliver(env, mailbox_type, log)
      payload, = @authenticator.authenticate!(env, mailbox_type)

      length = content_length(env)
      return respond(log, 400, { message: "400 Bad Request" }, "invalid Content-Length") if length == :invalid
      return too_large(log, length) if length && length > @max_body_bytes

      raw = read_body(env["rack.input"])
      log[:bytes] = raw ? raw.bytesize : @max_body_bytes + 1
      return too_large(log, log[:bytes]) if raw.nil?

      @authenticator.verify_body!(payload, raw)
      enqueue(mailbox_type, payload, raw, log)
    rescue DecodeError => e
      respond(log, 401, { message: "401 Unauthorized" }, "#{e.class.name.split('::').last}: #{e.message}")
    rescue ReplayCache::Unavailable => e
      unavailable(log, e)
    end

    def enqueue(mailbox_type, payload, raw, log)
      @authenticator.claim!(payload)
      begin
        @queue.push(mailbox_type, UTF8.encode(raw))
      rescue StandardError
        release(payload)
        raise
      end
      respond(log, 200, { success: true })
    rescue Queue::TooLarge
      respond(log, 400, { success: false, message: TOO_LARGE_MESSAGE }, "too large for the queue")
    rescue Queue::Unavailable => e
      unavailable(log, e)
    end

    def release(payload)
      @authenticator.release(payload)
    rescue ReplayCache::Unavailable
      nil
    end

    def unavailable(log, error)
      respond(log, 503, { success: false, message: "503 Service Unavailable: please retry" },
              "#{error.class.name.split('::').last(2).join('::')}: #{error.message}", "retry-after" => "5")
    end

    def too_large(log, bytes)
      log[:bytes] = bytes
      respond(log, 413, { success: false, message: "413 Payload Too Large" },
              "body over #{@max_body_bytes} bytes")
    end

    # nil when absent (chunked), :invalid when not a plain decimal number.
    def content_length(env)
      value = env["CONTENT_LENGTH"]
      return nil if value.nil? || value == ""
      return :invalid unless value.is_a?(String) && value.match?(/\A[0-9]{1,15}\z/)

      value.to_i
    end

    # The body's bytes, or nil when it is longer than max_body_bytes.
    def read_body(input)
      raw = String.new(capacity: [CHUNK, @max_body_bytes + 1].min, encoding: Encoding::BINARY)
      return raw if input.nil?

      chunk = String.new(encoding: Encoding::BINARY)
      while input.read([CHUNK, @max_body_bytes + 1 - raw.bytesize].min, chunk)
        raw << chunk
        return nil if raw.bytesize > @max_body_bytes
      end
      raw
    end

    def respond(log, status, body, reason = nil, extra_headers = {})
      log[:reason] = reason if reason
      json = JSON.generate(body)
      headers = { "content-type" => "application/json", "content-length" => json.bytesize.to_s }
      [status, headers.merge(extra_headers), [json]]
    end

    def log_request(log, status, started)
      return unless @logger

      entry = { event: "mail_room_request", mailbox_type: log[:mailbox_type], status: status, bytes: log[:bytes] }
      entry[:reason] = log[:reason] if log[:reason]
      entry[:duration_ms] = ((Process.clock_gettime(Process::CLOCK_MONOTONIC) - started) * 1000).round(2)
      line = JSON.generate(entry)
      status >= 500 ? @logger.error(line) : @logger.info(line)
    rescue StandardError
      nil
    end
  end
end
