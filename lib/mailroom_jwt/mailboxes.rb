# frozen_string_literal: true

require "yaml"

module MailroomJWT
  # The receiver's mailboxes, as GitLab's gitlab.yml configures them:
  #
  #   incoming_email:
  #     enabled: true
  #     address: "incoming+%{key}@example.com"
  #     secret_file: /etc/gitlab/.gitlab_incoming_email_secret
  #   service_desk_email:
  #     enabled: true
  #     address: "contact+%{key}@example.com"
  #     secret_file: [/etc/gitlab/.sd_secret_new, /etc/gitlab/.sd_secret_old]
  #
  # Keys may be Strings or Symbols; other sections are ignored. A mailbox is
  # enabled when enabled is true and address is not empty. secret_file is a
  # path or an Array of paths (key rotation: a token signed with any of them
  # is accepted). Every secret file of an enabled mailbox is read at load:
  # a missing, unreadable or malformed one raises SecretConfigurationError
  # with the mailbox, the path and the reason (never the content).
  #
  # After load, each file is read again when it changes on disk. While the
  # mailbox has several files, one that has become unreadable is skipped
  # with a warning; when none is usable, #keys raises
  # SecretConfigurationError (the endpoint answers 500, the sender retries).
  class Mailboxes
    include Enumerable

    TYPES = %w[incoming_email service_desk_email].freeze

    # One mailbox type's configuration.
    class Mailbox
      attr_reader :type, :address, :secret_files

      def initialize(type:, enabled:, address:, secret_files:)
        @type = type
        @enabled = enabled
        @address = address
        @secret_files = secret_files.freeze
        freeze
      end

      def enabled?
        @enabled
      end

      def inspect
        "#<#{self.class.name} #{type} enabled=#{@enabled} secret_files=#{secret_files.inspect}>"
      end
    end

    # Reads a YAML file with the sections at the top level, or under
    # environment (default: $RAILS_ENV or "production") as gitlab.yml has them.
    def self.load_file(path, environment: ENV.fetch("RAILS_ENV", "production"), logger: MailroomJWT.logger)
      path = path.to_path if path.respond_to?(:to_path)
      data = begin
        YAML.safe_load(File.read(path), aliases: true) || {}
      rescue SystemCallError, IOError => e
        raise SecretConfigurationError, "#{path}: cannot read (#{e.class.name.split('::').last})"
      rescue Psych::Exception => e
        raise SecretConfigurationError, "#{path}: not valid YAML (#{e.message.lines.first.to_s.strip})"
      end
      raise SecretConfigurationError, "#{path}: expected a mapping at the top level" unless data.is_a?(Hash)

      unless TYPES.any? { |t| data.key?(t) || data.key?(t.to_sym) }
        section = data[environment.to_s] || data[environment.to_s.to_sym]
        data = section if section.is_a?(Hash)
      end
      new(data, logger: logger, source: path)
    rescue SecretConfigurationError => e
      raise if e.message.start_with?(path.to_s)

      raise SecretConfigurationError, "#{path}: #{e.message}"
    end

    # config: the sections as a Hash (Mailboxes.new(hash), or written as
    # keywords: Mailboxes.new(incoming_email: {...})).
    def initialize(config = nil, logger: MailroomJWT.logger, source: nil, **sections)
      config = sections if config.nil?
      raise SecretConfigurationError, "mailbox configuration must be a Hash, got #{config.class}" unless config.is_a?(Hash)

      @logger = logger
      @source = source
      @mailboxes = {}
      @watched = {}
      @warned = {}
      TYPES.each do |type|
        section = config[type] || config[type.to_sym]
        next if section.nil?

        @mailboxes[type] = build(type, section)
      end
      @mailboxes.freeze
      @mailboxes.each_value { |m| load_keys!(m) if m.enabled? }
    end

    def [](type)
      @mailboxes[type.to_s]
    end

    def each(&block)
      @mailboxes.each_value(&block)
    end

    def enabled?(type)
      mailbox = @mailboxes[type.to_s]
      !mailbox.nil? && mailbox.enabled?
    end

    def enabled_types
      @mailboxes.values.select(&:enabled?).map(&:type)
    end

    # The keys of an enabled mailbox, first file first, re-read when a file
    # changed. Raises SecretConfigurationError when none is usable.
    def keys(type)
      mailbox = @mailboxes[type.to_s]
      raise SecretConfigurationError, "#{type} is not an enabled mailbox" unless mailbox&.enabled?

      reasons = []
      keys = mailbox.secret_files.filter_map do |path|
        key = @watched.fetch(path).value
        @warned.delete(path)
        key
      rescue SecretFileError => e
        reasons << e.message
        warn_once(path, "#{mailbox.type}: skipping secret file #{e.message}") if mailbox.secret_files.size > 1
        nil
      end
      raise SecretConfigurationError, "Fail to read #{mailbox.type}'s secret: #{reasons.join('; ')}" if keys.empty?

      keys
    end

    def inspect
      "#<#{self.class.name} #{@mailboxes.values.map(&:inspect).join(', ')}>"
    end

    private

    def build(type, section)
      raise SecretConfigurationError, "#{type}: expected a mapping, got #{section.class}" unless section.is_a?(Hash)

      enabled = fetch(section, :enabled)
      address = fetch(section, :address)
      enabled = [true, "true"].include?(enabled) && address.is_a?(String) && !address.strip.empty?
      files = secret_files(type, fetch(section, :secret_file), enabled)
      Mailbox.new(type: type, enabled: enabled, address: address, secret_files: files)
    end

    def fetch(section, name)
      section.key?(name.to_s) ? section[name.to_s] : section[name]
    end

    def secret_files(type, value, enabled)
      list = value.is_a?(Array) ? value : [value].compact
      list = list.map { |p| p.respond_to?(:to_path) ? p.to_path : p }
      if enabled
        raise SecretConfigurationError, "#{type}'s secret_file configuration is missing" if list.empty?

        list.each do |p|
          next if p.is_a?(String) && !p.empty?

          raise SecretConfigurationError, "#{type}'s secret_file must be a path or a list of paths, got #{p.class}"
        end
      end
      list.select { |p| p.is_a?(String) && !p.empty? }.map { |p| File.expand_path(p) }.uniq
    end

    def load_keys!(mailbox)
      mailbox.secret_files.each do |path|
        watched = WatchedFile.new(path) { |p| Key.read(p, logger: @logger) }
        begin
          watched.value
        rescue SecretFileError => e
          raise SecretConfigurationError, "#{mailbox.type}'s secret file #{e.message}"
        end
        @watched[path] = watched
      end
    end

    def warn_once(path, message)
      return if @warned[path] == message

      @warned[path] = message
      @logger&.warn(message)
    end
  end
end
