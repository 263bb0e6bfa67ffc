# frozen_string_literal: true

require "erb"
require "etc"
require "uri"
require "yaml"

module MailroomJWT
  # Checks the secret files of a receiver configuration (gitlab.yml form)
  # and, when given, of a mail_room configuration, and says what to fix:
  # each file exists, is a strict base64 secret of 32 bytes, is readable by
  # its owner only, belongs to the service user, and the secret mail_room
  # signs a mailbox's tokens with is one the receiver accepts for it.
  # Secrets are compared with Key#== and shown only as fingerprints.
  class Doctor
    MAILBOX_TYPES = %w[incoming_email service_desk_email].freeze
    GITLAB_ISSUER = "gitlab-mailroom"
    GITLAB_HEADER = "Gitlab-Mailroom-Api-Request"

    # One line of the report. level: :ok, :problem or :note.
    Finding = Struct.new(:level, :mailbox, :message, keyword_init: true) do
      def to_s
        tag = { ok: "ok     ", problem: "PROBLEM", note: "note   " }.fetch(level)
        "#{tag} #{mailbox}: #{message}"
      end
    end

    attr_reader :findings

    # config: a gitlab.yml-form file (incoming_email / service_desk_email
    # sections, at the top level or under an environment such as
    # production, or $RAILS_ENV). mail_room_config: mail_room's YAML (ERB is evaluated, as
    # mail_room does). user: the account the services run as.
    def initialize(config:, mail_room_config: nil, user: Etc.getpwuid(Process.euid)&.name, environment: nil)
      @config = config
      @mail_room_config = mail_room_config
      @user = user
      @environment = environment
      @findings = []
    end

    def ok?
      findings.none? { |f| f.level == :problem }
    end

    # Runs every check; returns the findings.
    def run
      @findings = []
      receiver = receiver_mailboxes
      receiver_keys = receiver.to_h { |type, paths| [type, check_files(type, paths, "GitLab")] }
      check_sender(receiver_keys) if @mail_room_config
      findings
    end

    private

    def problem(mailbox, message)
      @findings << Finding.new(level: :problem, mailbox: mailbox, message: message)
      nil
    end

    def ok(mailbox, message)
      @findings << Finding.new(level: :ok, mailbox: mailbox, message: message)
      nil
    end

    def note(mailbox, message)
      @findings << Finding.new(level: :note, mailbox: mailbox, message: message)
      nil
    end

    # { "incoming_email" => [paths] } for the enabled mailboxes, read as
    # Mailboxes.load_file reads them: the sections at the top level or under
    # the environment ($RAILS_ENV or production), String or Symbol keys.
    def receiver_mailboxes
      settings = load_yaml(@config, erb: false, symbolize: false)
      unless MAILBOX_TYPES.any? { |t| settings.key?(t) || settings.key?(t.to_sym) }
        env = @environment || ENV.fetch("RAILS_ENV", "production")
        section = settings[env] || settings[env.to_sym]
        settings = section if section.is_a?(Hash)
      end
      MAILBOX_TYPES.each_with_object({}) do |type, boxes|
        box = fetch(settings, type)
        next note(type, "not configured") unless box.is_a?(Hash)
        next note(type, "disabled (enabled is not true or address is empty)") unless enabled?(box)

        paths = Array(fetch(box, "secret_file")).compact
        next problem(type, "enabled but no secret_file is set in #{@config}") if paths.empty?

        boxes[type] = paths.map { |p| File.expand_path(p.to_s) }.uniq
      end
    end

    def fetch(hash, name)
      hash.key?(name) ? hash[name] : hash[name.to_sym]
    end

    def enabled?(box)
      address = fetch(box, "address")
      [true, "true"].include?(fetch(box, "enabled")) && address.is_a?(String) && !address.strip.empty?
    end

    # [path, Key] for each file that reads, after reporting on each.
    def check_files(type, paths, side)
      paths.filter_map do |path|
        key = check_file(type, path.to_s, side)
        key && [path.to_s, key]
      end
    end

    def check_file(type, path, side)
      stat = File.stat(path)
      return problem(type, "#{side} secret #{path} is not a regular file") unless stat.file?

      key = Key.read(path, logger: nil)
      fixes = []
      if (stat.mode & 0o077) != 0
        fixes << "is readable by group or others (mode #{format('%04o', stat.mode & 0o7777)}): run chmod 600 #{path}"
      end
      owner = user_name(stat.uid)
      if @user && owner != @user
        fixes << "belongs to #{owner}, not to the service user #{@user}: run chown #{@user} #{path}"
      end
      if fixes.empty?
        ok(type, "#{side} secret #{path}: 32 bytes, mode #{format('%04o', stat.mode & 0o7777)}, owner #{owner}, " \
                 "fingerprint #{key.fingerprint}")
      else
        fixes.each { |fix| problem(type, "#{side} secret #{path} #{fix}") }
      end
      key
    rescue Errno::ENOENT
      problem(type, "#{side} secret #{path} does not exist: create it with mailroom-jwt keygen #{path}")
    rescue SystemCallError => e
      problem(type, "#{side} secret #{path} cannot be checked (#{e.class.name.split('::').last}): " \
                    "make it readable by #{@user}")
    rescue SecretFileError => e
      problem(type, "#{e.message}: write a new one with mailroom-jwt keygen --force #{path} " \
                    "(and the same secret on the other side)")
    end

    def user_name(uid)
      Etc.getpwuid(uid)&.name || uid.to_s
    rescue ArgumentError
      uid.to_s
    end

    def check_sender(receiver_keys)
      config = load_yaml(@mail_room_config, erb: true, symbolize: true)
      mailboxes = config[:mailboxes]
      unless mailboxes.is_a?(Array)
        problem("mail_room", "#{@mail_room_config} has no mailboxes list")
        return
      end

      seen = []
      mailboxes.each_with_index do |box, index|
        seen << check_sender_mailbox(box.is_a?(Hash) ? box : {}, index, receiver_keys)
      end
      (receiver_keys.keys - seen).each do |type|
        note(type, "enabled in GitLab but no mail_room mailbox posts to it")
      end
    end

    # Checks one mail_room mailbox; returns the mailbox type it posts to.
    def check_sender_mailbox(box, index, receiver_keys)
      opts = box[:delivery_options].is_a?(Hash) ? box[:delivery_options] : {}
      url = box[:delivery_url] || opts[:delivery_url] || opts[:url]
      type = mailbox_type(url) || "mailbox #{index + 1}"
      unless postback?(box)
        note(type, "delivery_method #{box[:delivery_method]} does not post to GitLab")
        return nil
      end

      paths = Array(opts[:jwt_secret_path]).compact.map { |p| File.expand_path(p.to_s) }
      if paths.empty?
        problem(type, "mail_room sends no token: set jwt_secret_path and jwt_auth_header")
      else
        check_sender_settings(type, opts)
        signing = check_files(type, paths, "mail_room").first
        compare(type, signing, receiver_keys[type]) if signing && signing.first == paths.first
      end
      type
    end

    def check_sender_settings(type, opts)
      if opts[:jwt_auth_header].to_s != GITLAB_HEADER
        problem(type, "mail_room jwt_auth_header is #{opts[:jwt_auth_header].inspect}; GitLab reads #{GITLAB_HEADER}")
      end
      return if opts[:jwt_issuer].to_s == GITLAB_ISSUER

      issuer = opts[:jwt_issuer] ? "is #{opts[:jwt_issuer].to_s.inspect}" : "is not set (mail_room then uses mailroom)"
      problem(type, "mail_room jwt_issuer #{issuer}; GitLab accepts only #{GITLAB_ISSUER}: set jwt_issuer: #{GITLAB_ISSUER}")
    end

    def compare(type, (path, key), accepted)
      if accepted.nil?
        problem(type, "mail_room posts to #{type}, which is not enabled in GitLab")
      elsif accepted.empty?
        problem(type, "mail_room signs with #{path} but GitLab has no readable secret for #{type} (see above)")
      elsif accepted.any? { |_p, k| k == key }
        ok(type, "mail_room signs with #{path} (fingerprint #{key.fingerprint}), which GitLab accepts")
      else
        problem(type, "mail_room signs with #{path} (fingerprint #{key.fingerprint}) but GitLab accepts only " \
                      "#{accepted.map { |p, k| "#{p} (fingerprint #{k.fingerprint})" }.join(', ')}: " \
                      "copy the secret to both sides, or add it to GitLab's secret_file list")
      end
    end

    def postback?(box)
      (box[:delivery_method] || "postback").to_s == "postback"
    end

    def mailbox_type(url)
      return nil if url.nil?

      last = URI.parse(url.to_s).path.to_s.split("/").last
      MAILBOX_TYPES.include?(last) ? last : nil
    rescue URI::Error
      nil
    end

    def load_yaml(path, erb:, symbolize:)
      text = File.read(path)
      text = ERB.new(text).result if erb
      data = YAML.safe_load(text, permitted_classes: [Symbol], aliases: true, symbolize_names: symbolize)
      raise Error, "#{path} is not a YAML mapping" unless data.is_a?(Hash)

      data
    rescue Errno::ENOENT
      raise Error, "#{path}: no such file"
    rescue SystemCallError => e
      raise Error, "#{path}: cannot read (#{e.class.name.split('::').last})"
    rescue Psych::Exception => e
      raise Error, "#{path} is not valid YAML: #{e.message}"
    rescue ScriptError, StandardError => e
      raise if e.is_a?(Error)

      raise Error, "#{path}: its ERB failed (#{e.class}: #{e.message})"
    end
  end
end
