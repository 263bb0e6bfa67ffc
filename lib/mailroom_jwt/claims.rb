# frozen_string_literal: true

module MailroomJWT
  # The claim rules, in one place. Times are integer Unix seconds; leeways
  # are non-negative seconds and apply symmetrically: a token's clock may be
  # that far ahead (iat, nbf) or behind (exp).
  module Claims
    NUMERIC_CLAIMS = %w[exp nbf iat].freeze

    module_function

    def now
      Process.clock_gettime(Process::CLOCK_REALTIME, :second)
    end

    # Raises the DecodeError subclass that names the first broken rule.
    def verify!(payload, issuer: nil, audience: nil, iat_after: nil, leeway: 0,
                exp_leeway: nil, nbf_leeway: nil, iat_leeway: nil,
                verify_expiration: true, verify_not_before: true, verify_iat: true,
                required_claims: nil, at: now)
      if leeway.equal?(0) && !exp_leeway && !nbf_leeway && !iat_leeway
        exp_leeway = nbf_leeway = iat_leeway = 0
      else
        exp_leeway = check_leeway(exp_leeway || leeway)
        nbf_leeway = check_leeway(nbf_leeway || leeway)
        iat_leeway = check_leeway(iat_leeway || leeway)
      end

      check!(payload, issuer, audience, iat_after, exp_leeway, nbf_leeway, iat_leeway, verify_expiration,
             verify_not_before, verify_iat, required_claims, at)
    end

    # The rules themselves, with verify!'s arguments in order and the
    # leeways checked: verify! for callers, this for the hot decode path
    # (Key#decode), where Ruby's keyword matching is a measurable share.
    def check!(payload, issuer, audience, iat_after, exp_leeway, nbf_leeway, iat_leeway, verify_expiration,
               verify_not_before, verify_iat, required_claims, at)
      required_claims&.each do |name|
        raise MissingRequiredClaim, "Missing required claim #{name}" unless payload.key?(name.to_s)
      end

      exp = payload["exp"]
      unless exp.nil?
        raise InvalidPayload, "exp claim must be a finite number" unless finite_number?(exp)
        raise ExpiredSignature, "Signature has expired" if verify_expiration && exp <= at - exp_leeway
      end

      nbf = payload["nbf"]
      unless nbf.nil?
        raise InvalidPayload, "nbf claim must be a finite number" unless finite_number?(nbf)
        raise ImmatureSignature, "Signature nbf has not been reached" if verify_not_before && nbf > at + nbf_leeway
      end

      iat = payload["iat"]
      if iat.nil?
        raise InvalidIatError, "JWT iat claim is missing" if iat_after
      elsif verify_iat || iat_after
        raise InvalidIatError, "Invalid iat: not a finite number" unless iat.is_a?(Integer) || finite_number?(iat)
        raise InvalidIatError, "Invalid iat: issued in the future" if iat > at + iat_leeway
        raise ExpiredSignature, "Token has expired" if iat_after && iat < iat_after.to_i
      end

      unless issuer.nil?
        iss = payload["iss"]
        verify_issuer!(iss, issuer) unless iss.is_a?(String) && iss == issuer
      end
      verify_audience!(payload["aud"], audience) unless audience.nil?
      payload
    end

    def finite_number?(value)
      value.is_a?(Integer) || (value.is_a?(Float) && value.finite?)
    end

    def check_leeway(value)
      return value if value.is_a?(Integer) && value >= 0
      return value if value.is_a?(Float) && value.finite? && value >= 0

      raise ArgumentError, "leeway must be a non-negative number of seconds, got #{value.inspect}"
    end

    def verify_issuer!(iss, issuer)
      return if iss.is_a?(String) && (issuer.is_a?(Array) ? issuer.include?(iss) : issuer == iss)

      raise InvalidIssuerError, "Invalid issuer. Expected #{issuer}, received #{describe(iss)}"
    end

    def verify_audience!(aud, audience)
      expected = audience.is_a?(Array) ? audience : [audience]
      given = aud.is_a?(Array) ? aud : [aud]
      return if given.any? { |a| a.is_a?(String) && expected.include?(a) }

      raise InvalidAudError, "Invalid audience. Expected #{audience}, received #{describe(aud)}"
    end

    # Claims come from the token: show them shortly and without control bytes.
    def describe(value)
      return "<none>" if value.nil?

      text = value.is_a?(String) ? value : value.inspect
      text = text.scrub("?").gsub(/[[:cntrl:]]/, "?")
      text.length > 64 ? "#{text[0, 64]}..." : text
    end
  end
end
