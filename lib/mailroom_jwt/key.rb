# frozen_string_literal: true

module MailroomJWT
  # An HS256 key. Its bytes live in C memory, with the padded HMAC state
  # computed once, and are wiped when the key is collected. A Key is frozen,
  # shareable between threads, and never shows its bytes.
  class Key
    MIN_LENGTH = Native::MIN_KEY_LENGTH
    SECRET_LENGTH = 32
    PEM = /\A\s*-----BEGIN /.freeze

    class << self
      # 32 bytes from OpenSSL's CSPRNG.
      def generate
        native_generate.freeze
      end

      # A GitLab secret file: strict base64 of exactly 32 bytes, one trailing
      # line ending allowed. SecretFileError names the path and the reason.
      # A secret file that the group or others can read is a warning, through
      # MailroomJWT.logger unless logger: says otherwise (nil: no warning).
      def read(path, logger: :default)
        path = checked_path(path)

        key, mode = native_read(path)
        if (mode & 0o077) != 0
          # Looked up only when needed: MailroomJWT.logger lives in a module
          # instance variable, which a non-main Ractor may not read.
          logger = MailroomJWT.logger if logger == :default
          logger&.warn("secret file #{path} is readable by group or others (mode #{format('%04o', mode)}); " \
                       "run: chmod 600 #{path}")
        end
        key.freeze
      end

      # A secret file's path as a String, or SecretFileError. (The native side
      # refuses a NUL byte and an encoding that is not ASCII-compatible.)
      def checked_path(path)
        path = path.to_path if path.respond_to?(:to_path)
        raise SecretFileError, "secret file path must be a String, got #{path.class}" unless path.is_a?(String)

        path
      end
    end

    # bytes: a String of at least 32 bytes (RFC 7518 section 3.2).
    def initialize(bytes)
      unless bytes.is_a?(String)
        raise ArgumentError, "an HS256 key must be a String of at least #{MIN_LENGTH} bytes, got #{bytes.class}"
      end
      if bytes.bytesize < MIN_LENGTH
        raise ArgumentError, "an HS256 key must be at least #{MIN_LENGTH} bytes, got #{bytes.bytesize}"
      end
      if bytes.b.match?(PEM)
        raise ArgumentError, "this looks like a PEM key; HS256 needs a shared secret, not a public or private key"
      end

      native_init(bytes)
      freeze
    end

    # Writes the key as a GitLab secret file: strict base64, no newline,
    # mode 0600 even when the file existed, replaced atomically.
    def write(path)
      path = Key.checked_path(path)
      native_write(path)
      path
    end

    NO_HEADER_FIELDS = {}.freeze
    private_constant :NO_HEADER_FIELDS

    # A compact JWS with header {"alg":"HS256"} plus header_fields.
    def encode(payload, header_fields = NO_HEADER_FIELDS)
      raise EncodeError, "payload must be a Hash, got #{payload.class}" unless payload.is_a?(Hash)

      header = header_json(header_fields)
      # Plain data under the canonical header is written in C, byte for byte
      # as JSON.generate; anything else takes the general path below.
      (header.nil? && native_encode_hash(payload)) || encode_json(header, payload)
    rescue JSON::GeneratorError, JSON::NestingError, Encoding::UndefinedConversionError => e
      raise EncodeError, "payload cannot be encoded as JSON: #{e.class}"
    end

    # [payload, header] of a token signed with this key whose claims hold.
    def decode(token, issuer: nil, audience: nil, iat_after: nil, leeway: 0,
               verify_expiration: true, verify_not_before: true)
      decoded = native_decode(token, true)
      # Claims.verify!(payload, issuer:, audience:, iat_after:, leeway:,
      # verify_expiration:, verify_not_before:), without the keyword matching.
      leeway = Claims.check_leeway(leeway) unless leeway.equal?(0)
      Claims.check!(decoded[0], issuer, audience, iat_after, leeway, leeway, leeway, verify_expiration,
                    verify_not_before, true, nil, Claims.now)
      decoded
    end

    # True when token is a compact JWS signed with this key under alg HS256:
    # structure, header and MAC only; the payload may be any bytes.
    def verify(token)
      return false unless token.is_a?(String)

      header_json, mac_ok, header_members = native_open(token)
      return false unless mac_ok

      check_header(header_json, header_members)
      true
    rescue DecodeError
      false
    end

    # Checks structure, header and MAC; returns [payload, header] without
    # looking at the claims. Raises DecodeError or a subclass. The checks, in
    # this order, in C (Key#native_decode): a String; size, characters and
    # segments; the header one strict JSON object in strict base64url; the
    # payload's base64url; no header name repeated, alg exactly HS256, no
    # crit; the MAC; then the payload one strict JSON object with no name
    # repeated, its objects made only once the MAC holds.
    def decode_without_claims(token, verify_signature: true)
      native_decode(token, verify_signature)
    end

    # Key#== is native: keys that sign alike are equal, compared in constant time.
    alias eql? ==

    def hash
      fingerprint.to_i(16)
    end

    def inspect
      "#<#{self.class.name} fingerprint=#{fingerprint}>"
    end
    alias to_s inspect

    # Immutable: a copy is the same key.
    def dup
      self
    end

    def clone(freeze: true)
      raise ArgumentError, "a MailroomJWT::Key is always frozen" if freeze == false

      self
    end

    private

    def check_header(header_json, header_members)
      return { "alg" => ALGORITHM } if header_json.nil?

      header = parse_object(header_json, header_members, DecodeError, "duplicate header names")

      alg = header["alg"]
      raise IncorrectAlgorithm, "Expected a different algorithm" unless alg.is_a?(String) && alg == ALGORITHM
      raise DecodeError, "crit header is not supported" if header.key?("crit")

      header
    end

    # The core has checked that json is one strict JSON object with members
    # top-level names; fewer keys after parsing means a name was repeated.
    # (Newer json gems refuse duplicate keys themselves: the same error.)
    def parse_object(json, members, error, duplicate_message)
      object = JSON.parse(json)
      raise error, duplicate_message if object.size != members

      object
    rescue JSON::ParserError
      raise error, duplicate_message
    end

    def header_json(fields)
      return nil if fields.nil? || fields.empty?
      raise EncodeError, "header fields must be a Hash, got #{fields.class}" unless fields.is_a?(Hash)

      header = { "alg" => ALGORITHM }
      fields.each do |name, value|
        raise EncodeError, "header names must be Strings or Symbols" unless name.is_a?(String) || name.is_a?(Symbol)

        name = name.to_s
        if name == "alg"
          raise EncodeError, "this gem signs only with HS256, not #{Claims.describe(value)}" unless value == ALGORITHM
        elsif name == "crit"
          raise EncodeError, "the crit header is not supported"
        elsif header.key?(name)
          raise EncodeError, "duplicate header name #{name}"
        else
          header[name] = value
        end
      end
      JSON.generate(header)
    end

    def encode_json(header, payload)
      check_payload(payload)
      native_encode(header, JSON.generate(payload))
    end

    def check_payload(payload)
      payload.each do |name, value|
        if name.is_a?(Symbol)
          raise EncodeError, "duplicate claim name #{name}" if payload.key?(name.name)
        elsif !name.is_a?(String)
          raise EncodeError, "claim names must be Strings or Symbols, got #{name.class}"
        end
        name = name.name if name.is_a?(Symbol)
        next unless Claims::NUMERIC_CLAIMS.include?(name) && !Claims.finite_number?(value)

        raise EncodeError, "#{name} claim must be a finite number"
      end
    end
  end
end
