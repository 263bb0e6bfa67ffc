# frozen_string_literal: true

module MailroomJWT
  # Every error the gem raises on bad input is one of these. The names are
  # ruby-jwt's, so that migrating is a rename of the namespace.
  class Error < StandardError; end

  class EncodeError < Error; end
  class DecodeError < Error; end

  # A secret file that is missing, unreadable or malformed. The message names
  # the path and the reason, never the content.
  class SecretFileError < Error; end

  class VerificationError < DecodeError; end
  class ExpiredSignature < DecodeError; end
  class ImmatureSignature < DecodeError; end
  class IncorrectAlgorithm < DecodeError; end
  class InvalidIssuerError < DecodeError; end
  class InvalidIatError < DecodeError; end
  class InvalidAudError < DecodeError; end
  class InvalidPayload < DecodeError; end
  class MissingRequiredClaim < DecodeError; end
end
