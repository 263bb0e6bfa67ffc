# frozen_string_literal: true

RSpec.describe MailroomJWT::Mailboxes do
  let(:logger) { Logger.new(log, level: Logger::DEBUG) }
  let(:log) { StringIO.new }
  let!(:incoming_secret) { new_secret_file("incoming") }
  let!(:service_desk_secret) { new_secret_file("service_desk") }
  let(:config) do
    {
      "incoming_email" => { "enabled" => true, "address" => "incoming+%{key}@example.com",
                            "secret_file" => secret_path("incoming") },
      "service_desk_email" => { "enabled" => true, "address" => "contact+%{key}@example.com",
                                "secret_file" => secret_path("service_desk") }
    }
  end

  it "knows which mailbox types are enabled" do
    mailboxes = described_class.new(config, logger: logger)

    expect(mailboxes.enabled_types).to eq(%w[incoming_email service_desk_email])
    expect(mailboxes.enabled?("incoming_email")).to be(true)
    expect(mailboxes.enabled?(:service_desk_email)).to be(true)
    expect(mailboxes.enabled?("other")).to be(false)
    expect(mailboxes["incoming_email"].secret_files).to eq([secret_path("incoming")])
  end

  it "accepts symbol keys, also written as keywords" do
    mailboxes = described_class.new(incoming_email: { enabled: true, address: "a@example.com",
                                                      secret_file: secret_path("incoming") }, logger: logger)

    expect(mailboxes.enabled_types).to eq(%w[incoming_email])
    expect(mailboxes.keys(:incoming_email)).to eq([MailroomJWT::Key.new(incoming_secret)])
  end

  it "treats a mailbox without enabled: true or without an address as disabled, and does not read its secret" do
    config["incoming_email"]["enabled"] = false
    config["service_desk_email"]["address"] = ""
    config["service_desk_email"]["secret_file"] = secret_path("missing")
    mailboxes = described_class.new(config, logger: logger)

    expect(mailboxes.enabled_types).to eq([])
    expect { mailboxes.keys("incoming_email") }.to raise_error(MailroomJWT::SecretConfigurationError, /not an enabled/)
  end

  it "fails at load, with the path and the reason, when an enabled mailbox's secret file is missing" do
    config["service_desk_email"]["secret_file"] = secret_path("missing")

    expect { described_class.new(config, logger: logger) }.to raise_error(
      MailroomJWT::SecretConfigurationError,
      "service_desk_email's secret file #{secret_path('missing')}: cannot open (No such file or directory)"
    )
  end

  it "fails at load when a secret file is malformed, without showing its content" do
    File.write(secret_path("incoming"), "not-base64!!")

    expect { described_class.new(config, logger: logger) }.to raise_error(
      MailroomJWT::SecretConfigurationError, /#{Regexp.escape(secret_path('incoming'))}: not strict base64/
    ) { |e| expect(e.message).not_to include("not-base64!!") }
  end

  it "fails at load when an enabled mailbox has no secret_file, with GitLab's message" do
    config["incoming_email"].delete("secret_file")

    expect { described_class.new(config, logger: logger) }
      .to raise_error(MailroomJWT::SecretConfigurationError, "incoming_email's secret_file configuration is missing")
  end

  it "refuses a secret_file that is neither a path nor a list of paths" do
    config["incoming_email"]["secret_file"] = 42

    expect { described_class.new(config, logger: logger) }
      .to raise_error(MailroomJWT::SecretConfigurationError, /must be a path or a list of paths/)
  end

  it "refuses a configuration that is not a Hash" do
    expect { described_class.new([], logger: logger) }.to raise_error(MailroomJWT::SecretConfigurationError)
  end

  describe "several secrets per mailbox" do
    let!(:next_secret) { new_secret_file("incoming.next") }

    before { config["incoming_email"]["secret_file"] = [secret_path("incoming"), secret_path("incoming.next")] }

    it "gives every key, first file first" do
      mailboxes = described_class.new(config, logger: logger)

      expect(mailboxes.keys("incoming_email"))
        .to eq([MailroomJWT::Key.new(incoming_secret), MailroomJWT::Key.new(next_secret)])
    end

    it "validates all of them at load" do
      File.write(secret_path("incoming.next"), "")

      expect { described_class.new(config, logger: logger) }
        .to raise_error(MailroomJWT::SecretConfigurationError, /incoming\.next: empty/)
    end

    it "picks up a changed file, and skips (with one warning) one that has become unreadable" do
      mailboxes = described_class.new(config, logger: logger)
      replacement = MailroomJWT::Key.generate
      replacement.write(secret_path("incoming.next"))
      expect(mailboxes.keys("incoming_email")).to eq([MailroomJWT::Key.new(incoming_secret), replacement])

      File.delete(secret_path("incoming"))
      expect(mailboxes.keys("incoming_email")).to eq([replacement])
      expect(mailboxes.keys("incoming_email")).to eq([replacement])
      expect(log.string.scan(/skipping secret file/).size).to eq(1)
    end

    it "raises SecretConfigurationError when none is usable any more" do
      mailboxes = described_class.new(config, logger: logger)
      File.delete(secret_path("incoming"))
      File.write(secret_path("incoming.next"), "garbage")

      expect { mailboxes.keys("incoming_email") }
        .to raise_error(MailroomJWT::SecretConfigurationError, /Fail to read incoming_email's secret: .*cannot open.*not strict base64/)
    end
  end

  describe ".load_file" do
    let(:yml) { File.join(receiver_tmpdir, "gitlab.yml") }

    it "reads the sections at the top level" do
      File.write(yml, YAML.dump(config))

      expect(described_class.load_file(yml, logger: logger).enabled_types).to eq(%w[incoming_email service_desk_email])
    end

    it "reads them under the environment, as gitlab.yml has them (anchors allowed)" do
      File.write(yml, <<~YAML)
        defaults: &defaults
          gitlab:
            host: example.com
        production:
          <<: *defaults
          incoming_email:
            enabled: true
            address: "incoming+%{key}@example.com"
            secret_file: #{secret_path('incoming')}
          service_desk_email:
            enabled: false
      YAML

      mailboxes = described_class.load_file(yml, environment: "production", logger: logger)
      expect(mailboxes.enabled_types).to eq(%w[incoming_email])
      expect(mailboxes.keys("incoming_email")).to eq([MailroomJWT::Key.new(incoming_secret)])
    end

    it "names the file when it is missing, not YAML, or its secrets are broken" do
      expect { described_class.load_file(File.join(receiver_tmpdir, "nope.yml")) }
        .to raise_error(MailroomJWT::SecretConfigurationError, /nope\.yml: cannot read/)

      File.write(yml, "incoming_email: [unclosed")
      expect { described_class.load_file(yml) }.to raise_error(MailroomJWT::SecretConfigurationError, /gitlab\.yml: not valid YAML/)

      config["incoming_email"]["secret_file"] = secret_path("missing")
      File.write(yml, YAML.dump(config))
      expect { described_class.load_file(yml) }
        .to raise_error(MailroomJWT::SecretConfigurationError, /gitlab\.yml: incoming_email's secret file .*missing: cannot open/)
    end
  end

  it "does not show secrets in inspect" do
    mailboxes = described_class.new(config, logger: logger)

    expect(mailboxes.inspect).to include("incoming_email")
    expect(mailboxes.inspect).not_to include([incoming_secret].pack("m0"))
    expect(mailboxes.inspect).not_to include(incoming_secret)
  end
end
