# frozen_string_literal: true

module MailroomJWT
  # ruby-jwt's call shapes, for code that calls JWT.encode and JWT.decode.
  # Only HS256 exists here: any other algorithm is refused, never guessed.
  class << self
    # MailroomJWT.encode(payload, secret, "HS256", header_fields = {})
    def encode(payload, secret, algorithm = ALGORITHM, header_fields = {})
      unless algorithm.to_s == ALGORITHM
        raise EncodeError, "unsupported algorithm #{Claims.describe(algorithm)}; only HS256 is available"
      end

      key_for(secret, EncodeError).encode(payload, header_fields)
    end

    # MailroomJWT.decode(token, secret, verify = true, options = {}) -> [payload, header]
    # Options as ruby-jwt names them: algorithm/algorithms, iss/verify_iss,
    # verify_iat, aud/verify_aud, leeway, exp_leeway, nbf_leeway,
    # verify_expiration, verify_not_before, required_claims.
    def decode(token, secret = nil, verify = true, options = {})
      options = options.transform_keys(&:to_sym)
      unless verify
        return UNVERIFIED.decode_without_claims(token, verify_signature: false)
      end

      algorithms = Array(options.fetch(:algorithms) { options.fetch(:algorithm, ALGORITHM) }).map(&:to_s)
      raise IncorrectAlgorithm, "Expected a different algorithm" unless algorithms.include?(ALGORITHM)

      payload, header = key_for(secret, DecodeError).decode_without_claims(token)
      Claims.verify!(
        payload,
        issuer: options[:verify_iss] ? options[:iss] : nil,
        audience: options[:verify_aud] ? options[:aud] : nil,
        leeway: options.fetch(:leeway, 0) || 0,
        exp_leeway: options[:exp_leeway],
        nbf_leeway: options[:nbf_leeway],
        verify_expiration: options.fetch(:verify_expiration, true),
        verify_not_before: options.fetch(:verify_not_before, true),
        verify_iat: options.fetch(:verify_iat, false),
        required_claims: options[:required_claims]
      )
      [payload, header]
    end

    private

    def key_for(secret, error)
      return secret if secret.is_a?(Key)
      raise error, "No verification key available" if secret.nil? || (secret.is_a?(String) && secret.empty?)

      Key.new(secret)
    end
  end

  # Opens tokens when the caller asked for no verification (ruby-jwt's
  # verify = false): its MAC result is ignored.
  UNVERIFIED = Key.generate
  private_constant :UNVERIFIED
end
