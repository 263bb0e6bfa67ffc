# frozen_string_literal: true

require "digest"
require "securerandom"

module MailroomJWT
  # A sender's option that cannot work (an algorithm other than HS256, a
  # negative timeout, a token lifetime that is not a number of seconds).
  class SenderConfigurationError < Error; end

  # A drop-in for mail_room's MailRoom::JWT: the same constructor, readers,
  # #valid? and #token, and by default exactly the same token
  # ({"alg":"HS256"} over {"nonce","iat","iss"}).
  #
  # Unlike mail_room it reads the secret file once, checks it when it is
  # first needed (strict base64 of 32 bytes, SecretFileError naming the path
  # and the reason), and reads it again only when the file changes on disk,
  # so a rotated secret is picked up without a restart.
  #
  # secret_path may be an Array of paths: the token is signed with the first
  # (the receiver accepts any of its own list; see the README on rotation).
  #
  # Opt-in, for a receiver that checks them:
  # - audience: adds "aud" (the mailbox type, e.g. "incoming_email");
  # - bind_body: adds "body_sha256", the unpadded base64url SHA-256 of the
  #   exact body bytes, so #token must be given the body;
  # - expires_in: adds "exp" = iat + expires_in seconds.
  class Token
    DEFAULT_ISSUER = "mailroom"
    DEFAULT_ALGORITHM = ALGORITHM

    attr_reader :header, :secret_path, :issuer, :algorithm, :audience, :expires_in

    def initialize(header:, secret_path:, issuer: nil, algorithm: nil, audience: nil, bind_body: false,
                   expires_in: nil, logger: MailroomJWT.logger)
      @header = header
      @secret_path = secret_path
      @issuer = issuer || DEFAULT_ISSUER
      @algorithm = algorithm || DEFAULT_ALGORITHM
      unless @algorithm.to_s == ALGORITHM
        raise SenderConfigurationError,
              "jwt_algorithm #{@algorithm.to_s.inspect} is not supported: this gem signs with HS256 only"
      end

      @audience = audience
      @bind_body = bind_body ? true : false
      @expires_in = check_expires_in(expires_in)
      @logger = logger
      @lock = Mutex.new
      @key = nil
      @stamp = nil
    end

    # True when none of mail_room's four options is nil (header, secret path,
    # issuer, algorithm): only then does mail_room send a token at all.
    def valid?
      [@header, @secret_path, @issuer, @algorithm].none?(&:nil?)
    end

    def bind_body?
      @bind_body
    end

    # The path the token is signed with: the first of an Array.
    def signing_path
      path = @secret_path.is_a?(Array) ? @secret_path.first : @secret_path
      path.respond_to?(:to_path) ? path.to_path : path
    end

    # A fresh token, or nil when not #valid? (as mail_room). With bind_body,
    # body (the exact bytes to be POSTed) is required.
    def token(body: nil)
      return nil unless valid?

      now = Claims.now
      payload = { "nonce" => SecureRandom.hex(12), "iat" => now, "iss" => @issuer }
      payload["aud"] = @audience unless @audience.nil?
      payload["exp"] = now + @expires_in unless @expires_in.nil?
      if @bind_body
        raise EncodeError, "this token is bound to the body: pass body:" unless body.is_a?(String)

        payload["body_sha256"] = self.class.body_digest(body)
      end
      key.encode(payload)
    end

    # The signing key, read from the first secret path; read again only when
    # the file changed (inode, size, mtime or ctime), so rotation needs no
    # restart. Raises SecretFileError with the path and the reason.
    def key
      path = signing_path
      raise SecretFileError, "no jwt_secret_path configured" if path.nil?
      raise SecretFileError, "jwt_secret_path must be a String, got #{path.class}" unless path.is_a?(String)

      @lock.synchronize do
        stamp = file_stamp(path)
        if @key.nil? || stamp != @stamp
          @key = Key.read(path, logger: @logger)
          @stamp = stamp
        end
        @key
      end
    end

    def inspect
      "#<#{self.class.name} header=#{@header.inspect} secret_path=#{@secret_path.inspect} " \
        "issuer=#{@issuer.inspect} algorithm=#{@algorithm.inspect}>"
    end

    # Unpadded base64url of SHA-256 over the exact bytes of body.
    def self.body_digest(body)
      [Digest::SHA256.digest(body.b)].pack("m0").tr("+/", "-_").delete("=")
    end

    private

    def file_stamp(path)
      st = File.stat(path)
      [st.dev, st.ino, st.size, st.mtime.to_r, st.ctime.to_r]
    rescue SystemCallError
      nil # Key.read names the path and the reason
    end

    def check_expires_in(value)
      return nil if value.nil?
      return value if value.is_a?(Integer) && value.positive?

      raise SenderConfigurationError, "jwt_expires_in must be a positive whole number of seconds, got #{value.inspect}"
    end
  end
end
