# frozen_string_literal: true

module MailroomJWT
  # A drop-in for GitLab's Gitlab::JwtAuthenticatable concern, on this gem's
  # keys and claim rules instead of ruby-jwt.
  #
  #   class Gitlab::Shell
  #     include MailroomJWT::Authenticatable
  #     def self.secret_path = Rails.root.join(".gitlab_shell_secret")
  #   end
  #   Gitlab::Shell.decode_jwt(token, issuer: "gitlab-shell") # => [payload, header]
  #
  # Including it gives the class the class methods decode_jwt, secret,
  # read_secret and write_secret, and the constant SECRET_LENGTH (32). As in
  # GitLab, the class defines secret_path. Unlike GitLab, #secret is not kept
  # for the life of the process: it is read again when the file changes on
  # disk, so a rotated secret needs no restart. Errors are MailroomJWT's
  # (ruby-jwt's names): DecodeError and its subclasses, SecretFileError.
  module Authenticatable
    SECRET_LENGTH = 32

    def self.included(base)
      base.extend(ClassMethods)
    end

    # [payload, header] of a token signed with any of keys (Key objects),
    # structure, header and MAC checked; claims are left to the caller.
    # A token that no key signed raises VerificationError.
    def self.open_with_any(token, keys)
      raise DecodeError, "No verification key available" if keys.empty?

      keys.each_with_index do |key, i|
        return key.decode_without_claims(token)
      rescue VerificationError
        raise if i == keys.size - 1
      end
    end

    # Key objects for what callers pass as a secret: raw bytes (a String of
    # at least 32 bytes), a Key, or an Array of those (any of them may sign).
    def self.keys_for(secret, cache = nil)
      list = secret.is_a?(Array) ? secret : [secret]
      list.map { |s| key_for(s, cache) }
    end

    def self.key_for(secret, cache)
      return secret if secret.is_a?(Key)
      raise DecodeError, "No verification key available" unless secret.is_a?(String) && !secret.empty?

      if cache
        last = cache[0]
        return last[1] if last && last[0].equal?(secret) && secret.frozen?
      end
      key = Key.new(secret)
      cache[0] = [secret, key].freeze if cache && secret.frozen?
      key
    rescue ArgumentError => e
      raise DecodeError, "Invalid verification key: #{e.message}"
    end

    # iat_after as an Integer, moved back by the leeway; nil when not given.
    # true (as some callers pass) requires an iat without an age limit.
    def self.iat_floor(iat_after, leeway)
      return nil unless present?(iat_after)
      return -(2**62) if iat_after == true
      raise ArgumentError, "iat_after must be a Time or a number, got #{iat_after.class}" unless iat_after.respond_to?(:to_i)

      iat_after.to_i - leeway.ceil
    end

    def self.present?(value)
      !(value.nil? || value == false || (value.respond_to?(:empty?) && value.empty?))
    end

    module ClassMethods
      # GitLab's semantics: the algorithm is the server's (only HS256 exists
      # here), issuer/audience are checked when given, and with iat_after the
      # iat claim must be present and iat >= iat_after.to_i (older raises
      # ExpiredSignature 'Token has expired'). exp and nbf are checked when
      # present. leeway (seconds, default 0 as GitLab) applies to iat, exp,
      # nbf and to iat_after. jwt_secret may also be a Key or an Array of
      # secrets, any of which may have signed the token.
      def decode_jwt(encoded_message, jwt_secret = secret, algorithm: ALGORITHM, issuer: nil, iat_after: nil,
                     audience: nil, leeway: 0)
        raise IncorrectAlgorithm, "Expected a different algorithm" unless algorithm.to_s == ALGORITHM

        leeway = Claims.check_leeway(leeway)

        @mailroom_jwt_key_cache ||= []
        keys = Authenticatable.keys_for(jwt_secret, @mailroom_jwt_key_cache)
        payload, header = Authenticatable.open_with_any(encoded_message, keys)
        iat_after = Authenticatable.iat_floor(iat_after, leeway)
        Claims.verify!(payload,
                       issuer: Authenticatable.present?(issuer) ? issuer : nil,
                       audience: Authenticatable.present?(audience) ? audience : nil,
                       iat_after: iat_after, leeway: leeway)
        [payload, header]
      end

      # The secret bytes of secret_path, read once and read again when the
      # file changes on disk (mtime, size, inode).
      def secret
        path = secret_path
        path = path.to_path if path.respond_to?(:to_path)
        watched = @mailroom_jwt_secret
        unless watched && watched.path == path
          watched = @mailroom_jwt_secret = WatchedFile.new(path) { |p| read_secret(p) }
        end
        watched.value
      end

      # The 32 bytes of a GitLab secret file (strict base64, one trailing line
      # ending allowed), frozen and binary. SecretFileError names the path and
      # the reason, never the content.
      def read_secret(path)
        Authenticatable.read_secret_bytes(path)
      end

      # A fresh 32-byte secret, written atomically as strict base64, mode 0600.
      def write_secret(path = secret_path)
        Key.generate.write(path)
      end
    end

    # The file rules of Key.read (secret_file.c), for callers that need the
    # bytes themselves (GitLab's concern returns them).
    def self.read_secret_bytes(path, logger: MailroomJWT.logger)
      path = path.to_path if path.respond_to?(:to_path)
      raise SecretFileError, "secret file path must be a String, got #{path.class}" unless path.is_a?(String)

      content, mode = read_capped(path)
      content = content.chomp
      raise SecretFileError, "#{path}: empty" if content.empty?
      raise SecretFileError, "#{path}: too large for a secret file" if content.bytesize > Native::SECRET_FILE_MAX

      bytes = begin
        content.unpack1("m0")
      rescue ArgumentError
        raise SecretFileError, "#{path}: not strict base64"
      end
      raise SecretFileError, "#{path}: does not decode to exactly #{SECRET_LENGTH} bytes" if bytes.bytesize != SECRET_LENGTH

      if (mode & 0o077) != 0
        logger&.warn("secret file #{path} is readable by group or others (mode #{format('%04o', mode)}); " \
                     "run: chmod 600 #{path}")
      end
      bytes.force_encoding(Encoding::BINARY).freeze
    end

    def self.read_capped(path)
      File.open(path, File::RDONLY | File::NONBLOCK | File::BINARY) do |f|
        st = f.stat
        raise SecretFileError, "#{path}: not a regular file" unless st.file?
        raise SecretFileError, "#{path}: too large for a secret file" if st.size > Native::SECRET_FILE_MAX

        content = f.read(Native::SECRET_FILE_MAX + 1) || +""
        raise SecretFileError, "#{path}: too large for a secret file" if content.bytesize > Native::SECRET_FILE_MAX

        [content, st.mode & 0o7777]
      end
    rescue SystemCallError => e
      raise SecretFileError, "#{path}: cannot open (#{e.message.sub(/ @ .*\z/m, '').sub(/ - .*\z/m, '')})"
    end
    private_class_method :read_capped
  end
end
