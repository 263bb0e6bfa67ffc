# frozen_string_literal: true

require "digest"

module MailroomJWT
  # The receiver's secret configuration is broken (a secret file missing,
  # unreadable or malformed, or not configured): not an authentication
  # failure, so the endpoint answers 500 and logs why; the sender retries.
  class SecretConfigurationError < Error; end

  # The request names a mailbox type that is unknown or not enabled.
  class UnknownMailbox < DecodeError; end
  # The request carries no token header.
  class MissingToken < DecodeError; end
  # The token's nonce was accepted before (replay protection is on).
  class ReplayedToken < DecodeError; end
  # The token's body_sha256 claim does not match the body that came with it.
  class BodyMismatch < VerificationError; end

  # Authenticates mail_room's webhook requests, as GitLab's
  # Gitlab::MailRoom::Authenticator does, for the mailboxes given:
  #
  #   auth = MailroomJWT::Authenticator.new(MailroomJWT::Mailboxes.load_file("config/gitlab.yml"))
  #   auth.verify_api_request(request.headers, "incoming_email") # => [payload, header] or false
  #
  # Compatible default: header Gitlab-Mailroom-Api-Request, issuer
  # gitlab-mailroom, iat within the last EXPIRATION seconds, signed with the
  # secret (or any of the secrets) of the mailbox named in the path. A broken
  # secret configuration raises SecretConfigurationError instead of false.
  #
  # Opt-in hardening (each refuses tokens today's mail_room does not make):
  # - replay_cache: a ReplayCache::Memory or ReplayCache::Redis; a nonce is
  #   accepted once within the token's validity window, and a token without
  #   a nonce is refused.
  # - require_audience: true: the aud claim must be the mailbox type.
  # - require_body_digest: true: the body_sha256 claim (unpadded base64url
  #   SHA-256 of the exact body bytes) must match the body.
  # An aud or body_sha256 claim that is present is always checked.
  # - leeway: seconds of clock difference allowed both ways for iat, exp and
  #   nbf (default 0, as GitLab).
  #
  # For a one-shot check use #verify_api_request (or #verify!) with body:.
  # The endpoint uses the three steps: #authenticate! (header only, before
  # the body is read), #verify_body!, then #claim! once the email is to be
  # queued (and #release if queueing failed, so that the sender's retry of
  # the same token is not taken for a replay).
  class Authenticator
    REQUEST_HEADER = "Gitlab-Mailroom-Api-Request"
    RACK_HEADER = "HTTP_GITLAB_MAILROOM_API_REQUEST"
    ISSUER = "gitlab-mailroom"
    EXPIRATION = 300
    BODY_DIGEST_CLAIM = "body_sha256"
    NONCE = /\A[\x21-\x7e]{16,128}\z/.freeze
    SecretConfigurationError = MailroomJWT::SecretConfigurationError

    attr_reader :mailboxes, :replay_cache, :leeway, :expiration

    def initialize(mailboxes, issuer: ISSUER, expiration: EXPIRATION, leeway: 0, replay_cache: nil,
                   require_audience: false, require_body_digest: false, clock: nil)
      @mailboxes = mailboxes.is_a?(Mailboxes) ? mailboxes : Mailboxes.new(mailboxes)
      @issuer = issuer
      @expiration = Integer(expiration)
      raise ArgumentError, "expiration must be positive" unless @expiration.positive?

      @leeway = Claims.check_leeway(leeway)
      @replay_cache = replay_cache
      @require_audience = require_audience ? true : false
      @require_body_digest = require_body_digest ? true : false
      @clock = clock || Claims.method(:now)
    end

    def require_audience?
      @require_audience
    end

    def require_body_digest?
      @require_body_digest
    end

    # [payload, header], or false for any authentication failure. With body:
    # the body digest is checked too; with a replay cache the nonce is
    # consumed.
    def verify_api_request(headers, mailbox_type, body: nil)
      verify!(headers, mailbox_type, body: body)
    rescue DecodeError
      false
    end

    # As verify_api_request, but raises the DecodeError subclass that says
    # why (UnknownMailbox, MissingToken, VerificationError, ExpiredSignature,
    # ReplayedToken, BodyMismatch, ...).
    def verify!(headers, mailbox_type, body: nil)
      payload, header = authenticate!(headers, mailbox_type)
      verify_body!(payload, body) if body || body_digest_needed?(payload)
      claim!(payload)
      [payload, header]
    end

    # Step 1: the token in the headers, for the mailbox type; no side effect.
    def authenticate!(headers, mailbox_type)
      type = mailbox_type.to_s
      raise UnknownMailbox, "unknown or disabled mailbox type" unless @mailboxes.enabled?(type)

      token = self.class.token_from(headers)
      raise MissingToken, "no #{REQUEST_HEADER} header" if token.nil?

      keys = @mailboxes.keys(type)
      payload, header = Authenticatable.open_with_any(token, keys)
      now = @clock.call
      audience = @require_audience || payload.key?("aud") ? type : nil
      raise MissingRequiredClaim, "Missing required claim aud" if @require_audience && !payload.key?("aud")

      Claims.verify!(payload, issuer: @issuer, audience: audience, leeway: @leeway,
                              iat_after: now - @expiration - @leeway.ceil, at: now)
      check_nonce!(payload) if @replay_cache
      if @require_body_digest && !payload.key?(BODY_DIGEST_CLAIM)
        raise MissingRequiredClaim, "Missing required claim #{BODY_DIGEST_CLAIM}"
      end
      [payload, header]
    end

    # True when the body must be read and checked before the token is
    # accepted (the receiver requires it, or the token carries the claim).
    def body_digest_needed?(payload)
      @require_body_digest || payload.key?(BODY_DIGEST_CLAIM)
    end

    # Step 2: the body_sha256 claim against the exact body bytes.
    def verify_body!(payload, body)
      return true unless body_digest_needed?(payload)

      claimed = payload[BODY_DIGEST_CLAIM]
      raise BodyMismatch, "#{BODY_DIGEST_CLAIM} claim must be a String" unless claimed.is_a?(String)
      raise BodyMismatch, "no body to check against #{BODY_DIGEST_CLAIM}" unless body.is_a?(String)

      actual = self.class.body_digest(body)
      raise BodyMismatch, "body does not match #{BODY_DIGEST_CLAIM}" unless Native.mac_equal?(claimed.b, actual)

      true
    end

    # Step 3: consumes the nonce (replay cache on); ReplayedToken if it was
    # consumed before within the token's validity window. May raise
    # ReplayCache::Unavailable.
    def claim!(payload)
      return true unless @replay_cache

      nonce = check_nonce!(payload)
      raise ReplayedToken, "token nonce was already used" unless @replay_cache.claim(nonce, ttl: replay_ttl(payload))

      true
    end

    # Gives a consumed nonce back (the email could not be queued).
    def release(payload)
      return unless @replay_cache && payload.is_a?(Hash) && payload["nonce"].is_a?(String)

      @replay_cache.release(payload["nonce"])
    end

    def inspect
      "#<#{self.class.name} mailboxes=#{@mailboxes.enabled_types.inspect} leeway=#{@leeway} " \
        "replay_cache=#{@replay_cache ? @replay_cache.class.name : 'off'} require_audience=#{@require_audience} " \
        "require_body_digest=#{@require_body_digest}>"
    end

    # Unpadded base64url SHA-256 of the exact bytes.
    def self.body_digest(body)
      Native.b64url_encode(Digest::SHA256.digest(body.b))
    end

    # The token from a Rack env or a Hash of header names in any case.
    def self.token_from(headers)
      return nil unless headers.respond_to?(:[])

      value = headers[RACK_HEADER] if headers.respond_to?(:key?) && headers.key?(RACK_HEADER)
      value ||= headers[REQUEST_HEADER]
      if value.nil? && headers.respond_to?(:each_pair)
        headers.each_pair do |name, v|
          next unless name.is_a?(String) || name.is_a?(Symbol)

          normalized = name.to_s.tr("_", "-")
          normalized = normalized.delete_prefix("HTTP-") if normalized.start_with?("HTTP-")
          if normalized.casecmp?(REQUEST_HEADER)
            value = v
            break
          end
        end
      end
      value.is_a?(String) && !value.empty? ? value : nil
    end

    private

    def check_nonce!(payload)
      nonce = payload["nonce"]
      raise MissingRequiredClaim, "Missing required claim nonce" if nonce.nil?
      raise InvalidPayload, "nonce must be 16 to 128 printable ASCII characters" unless nonce.is_a?(String) && NONCE.match?(nonce)

      nonce
    end

    # Long enough to outlive the token: iat + expiration (or exp, if sooner),
    # plus the leeway, from now.
    def replay_ttl(payload)
      now = @clock.call
      valid_until = payload["iat"].to_i + @expiration
      exp = payload["exp"]
      valid_until = [valid_until, exp.to_i].min if Claims.finite_number?(exp)
      [(valid_until + @leeway - now).ceil + 1, 1].max
    end
  end
end
