# frozen_string_literal: true

require "json"
require "net/http"
require "openssl"
require "uri"

module MailroomJWT
  # A drop-in for mail_room's postback delivery (MailRoom::Delivery::Postback)
  # that does not lose email:
  # - open and read timeouts, and a kept-alive connection;
  # - network errors and 5xx answers are retried with bounded exponential
  #   backoff and jitter (the first retry within a second), each attempt with
  #   a fresh token; a 4xx is never retried;
  # - #deliver is true only on a 2xx, so mail_room leaves a failed email on
  #   the server instead of deleting it;
  # - one structured log line per delivery (url without credentials, status,
  #   attempts, duration), never the token or the body.
  #
  # Postback.new takes a Hash with mail_room's delivery option names (Symbol
  # or String keys) or an Options built from a mail_room mailbox, which is
  # what mail_room itself passes (Postback::Options.new(mailbox)).
  class Postback
    DEFAULT_OPEN_TIMEOUT = 5
    DEFAULT_READ_TIMEOUT = 30
    DEFAULT_MAX_ATTEMPTS = 4
    DEFAULT_BASE_DELAY = 0.5
    DEFAULT_MAX_DELAY = 8.0
    USER_AGENT = "mailroom-jwt/#{VERSION}"

    # Errors on the way to an HTTP answer: worth another attempt.
    NETWORK_ERRORS = [
      SystemCallError, IOError, EOFError, SocketError, Timeout::Error, OpenSSL::SSL::SSLError,
      Net::HTTPBadResponse, Net::ProtocolError, Zlib::Error
    ].freeze

    # What one delivery came to: success? only on a 2xx.
    Result = Struct.new(:status, :body, :attempts, :error, :duration, :retryable, keyword_init: true) do
      def success?
        !status.nil? && status >= 200 && status < 300
      end
    end

    # mail_room's Options shape (url, token, username, password, logger,
    # content_type, jwt, with token_auth?, jwt_auth?, basic_auth?), plus our
    # timeouts and retry bounds. jwt is a MailroomJWT::Token.
    Options = Struct.new(:url, :token, :username, :password, :logger, :content_type, :jwt,
                         :open_timeout, :read_timeout, :max_attempts, :base_delay, :max_delay) do
      # From a MailRoom::Mailbox (or anything with its delivery_url,
      # delivery_token, content_type, delivery_options and logger), reading
      # the fields mail_room reads, in the order it reads them.
      def initialize(mailbox)
        opts = Options.normalize(mailbox.delivery_options)
        url = mailbox.delivery_url || opts[:delivery_url] || opts[:url]
        super(url, mailbox.delivery_token || opts[:delivery_token] || opts[:token],
              opts[:username] || opts[:delivery_username], opts[:password] || opts[:delivery_password],
              mailbox.logger || MailroomJWT.logger, opts[:content_type] || mailbox.content_type,
              Options.build_jwt(opts, url),
              Options.seconds(opts, :open_timeout, DEFAULT_OPEN_TIMEOUT),
              Options.seconds(opts, :read_timeout, DEFAULT_READ_TIMEOUT),
              Options.attempts(opts),
              Options.seconds(opts, :retry_base_delay, DEFAULT_BASE_DELAY),
              Options.seconds(opts, :retry_max_delay, DEFAULT_MAX_DELAY))
      end

      # A stand-in mailbox for a plain Hash of delivery options.
      HashSource = Struct.new(:delivery_options, :logger) do
        def delivery_url = nil
        def delivery_token = nil
        def content_type = nil
      end

      # From a Hash of delivery options with mail_room's names.
      def self.from_hash(hash, logger: nil)
        opts = normalize(hash)
        new(HashSource.new(opts, logger || opts[:logger]))
      end

      def self.normalize(hash)
        hash ||= {}
        raise SenderConfigurationError, "delivery options must be a Hash, got #{hash.class}" unless hash.is_a?(Hash)

        hash.transform_keys(&:to_sym)
      end

      def self.seconds(opts, name, default)
        value = opts.fetch(name, default)
        return value if value.is_a?(Numeric) && value.real? && value.finite? && value.positive?

        raise SenderConfigurationError, "#{name} must be a positive number of seconds, got #{value.inspect}"
      end

      def self.attempts(opts)
        value = opts.fetch(:max_attempts, DEFAULT_MAX_ATTEMPTS)
        return value if value.is_a?(Integer) && value.between?(1, 20)

        raise SenderConfigurationError, "max_attempts must be a whole number from 1 to 20, got #{value.inspect}"
      end

      # jwt_audience: a String, or true for the last path segment of the
      # delivery URL (the mailbox type in GitLab's endpoint).
      def self.build_jwt(opts, url)
        audience = opts[:jwt_audience]
        audience = URI.parse(url.to_s).path.to_s.split("/").last if audience == true
        Token.new(header: opts[:jwt_auth_header], secret_path: opts[:jwt_secret_path],
                  issuer: opts[:jwt_issuer], algorithm: opts[:jwt_algorithm], audience: audience,
                  bind_body: opts[:jwt_body_digest] == true, expires_in: opts[:jwt_expires_in])
      rescue URI::Error
        raise SenderConfigurationError, "delivery_url is not a valid URL"
      end

      def token_auth?
        !self[:token].nil?
      end

      def jwt_auth?
        self[:jwt].valid?
      end

      def basic_auth?
        !self[:username].nil? && !self[:password].nil?
      end

      def inspect
        "#<#{self.class.name} url=#{Postback.redact(url).inspect} jwt=#{jwt.inspect}>"
      end
      alias_method :to_s, :inspect
    end

    # The URL as it may be logged: no user, password, query or fragment.
    def self.redact(url)
      uri = URI.parse(url.to_s)
      uri.user = nil
      uri.password = nil
      uri.query = nil
      uri.fragment = nil
      uri.to_s
    rescue URI::Error
      "(unparsable url)"
    end

    # What mail_room calls: Postback.new(Postback::Options.new(mailbox)).
    def self.from_mailbox(mailbox)
      new(Options.new(mailbox))
    end

    attr_reader :options

    # delivery_options: an Options, or a Hash with mail_room's key names.
    def initialize(delivery_options)
      @options = delivery_options.is_a?(Options) ? delivery_options : Options.from_hash(delivery_options)
      @uri = parse_url(@options.url)
      @lock = Mutex.new
      @http = nil
    end

    # Posts message (the raw RFC 822 email); true only on a 2xx answer.
    def deliver(message)
      deliver_with_result(message).success?
    end

    # As #deliver, returning the Result (status, body, attempts, error).
    def deliver_with_result(message)
      started = Process.clock_gettime(Process::CLOCK_MONOTONIC)
      result = @lock.synchronize { attempt_all(message.to_s) }
      result.duration = Process.clock_gettime(Process::CLOCK_MONOTONIC) - started
      log(result, message.to_s.bytesize)
      result
    end

    # Closes the kept-alive connection.
    def close
      @lock.synchronize { finish }
    end

    def inspect
      "#<#{self.class.name} url=#{self.class.redact(@options.url).inspect}>"
    end

    private

    def attempt_all(body)
      attempts = 0
      loop do
        attempts += 1
        result = attempt(body)
        result.attempts = attempts
        return result if result.success? || !retryable?(result) || attempts >= @options.max_attempts

        sleep(backoff(attempts))
      end
    end

    def attempt(body)
      request = build_request(body)
      response = connection.request(request)
      Result.new(status: response.code.to_i, body: response.body)
    rescue *NETWORK_ERRORS => e
      finish
      Result.new(error: "#{e.class}: #{e.message}", retryable: true)
    rescue SecretFileError, EncodeError => e
      # Nothing was sent: a broken secret file is not worth another attempt.
      Result.new(error: "not sent: #{e.message}", retryable: false)
    end

    def retryable?(result)
      return result.retryable if result.status.nil?

      result.status >= 500
    end

    # Full jitter in the upper half of an exponentially growing window:
    # attempt n waits between d/2 and d, d = min(base * 2**(n-1), max).
    def backoff(attempt)
      window = [@options.base_delay * (2**(attempt - 1)), @options.max_delay].min
      (window / 2.0) + (rand * window / 2.0)
    end

    def build_request(body)
      request = Net::HTTP::Post.new(@uri.request_uri)
      request["User-Agent"] = USER_AGENT
      request["Content-Type"] = @options.content_type || "application/x-www-form-urlencoded"
      if @options.token_auth?
        request["Authorization"] = "Token #{@options.token}"
      elsif @options.basic_auth?
        request.basic_auth(@options.username.to_s, @options.password.to_s)
      elsif @uri.user
        request.basic_auth(URI.decode_www_form_component(@uri.user),
                           URI.decode_www_form_component(@uri.password.to_s))
      end
      jwt = @options.jwt
      request[jwt.header] = jwt.token(body: jwt.bind_body? ? body : nil) if jwt.valid?
      request.body = body
      request
    end

    def connection
      return @http if @http&.started?

      http = Net::HTTP.new(@uri.host, @uri.port)
      http.use_ssl = @uri.scheme == "https"
      http.open_timeout = @options.open_timeout
      http.read_timeout = @options.read_timeout
      http.write_timeout = @options.read_timeout
      http.keep_alive_timeout = 30
      http.max_retries = 0 # retries are ours, with a fresh token and backoff
      http.start
      @http = http
    end

    def finish
      @http&.finish if @http&.started?
    rescue IOError
      nil
    ensure
      @http = nil
    end

    def parse_url(url)
      raise SenderConfigurationError, "no delivery_url configured" if url.nil? || url.to_s.empty?

      uri = URI.parse(url.to_s)
      unless uri.is_a?(URI::HTTP) && uri.host && !uri.host.empty?
        raise SenderConfigurationError, "delivery_url must be an http or https URL, got #{self.class.redact(url)}"
      end

      uri
    rescue URI::InvalidURIError
      raise SenderConfigurationError, "delivery_url is not a valid URL"
    end

    def log(result, bytes)
      logger = @options.logger
      return unless logger

      line = { delivery_method: "Postback", action: result.success? ? "message pushed" : "message not delivered",
               url: self.class.redact(@options.url), status_code: result.status, attempts: result.attempts,
               byte_size: bytes, duration_s: result.duration.round(3) }
      line[:error] = result.error if result.error
      message = structured?(logger) ? line : JSON.generate(line)
      result.success? ? logger.info(message) : logger.error(message)
    end

    # mail_room's own logger takes a Hash; any other logger gets one JSON line.
    def structured?(logger)
      defined?(::MailRoom::Logger::Structured) && logger.is_a?(::MailRoom::Logger::Structured)
    end
  end
end
