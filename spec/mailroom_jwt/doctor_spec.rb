# frozen_string_literal: true

require "base64"
require "etc"
require "tmpdir"
require "yaml"
require "mailroom_jwt/doctor"

RSpec.describe MailroomJWT::Doctor do
  around do |example|
    Dir.mktmpdir("doctor-spec") do |dir|
      @dir = dir
      example.run
    end
  end

  let(:me) { Etc.getpwuid(Process.euid).name }
  let(:someone_else) { me == "nobody" ? "daemon" : "nobody" }
  let(:incoming) { write_secret_file(File.join(@dir, "incoming_secret")) }
  let(:service_desk) { write_secret_file(File.join(@dir, "service_desk_secret")) }

  def gitlab_yml(incoming_file: incoming, service_desk_file: service_desk, service_desk_enabled: true)
    path = File.join(@dir, "gitlab.yml")
    File.write(path, YAML.dump(
      "production" => {
        "incoming_email" => { "enabled" => true, "address" => "in+%{key}@example.com", "secret_file" => incoming_file },
        "service_desk_email" => { "enabled" => service_desk_enabled, "address" => "sd@example.com",
                                  "secret_file" => service_desk_file }
      }
    ))
    path
  end

  def mail_room_yml(incoming_path: incoming, issuer: "gitlab-mailroom")
    path = File.join(@dir, "mail_room.yml")
    File.write(path, <<~YAML)
      :mailboxes:
        - :email: "in@example.com"
          :password: "<%= "imap" + "-password" %>"
          :host: "imap.example.com"
          :name: "inbox"
          :delivery_method: postback
          :delivery_options:
            :delivery_url: "http://127.0.0.1:3000/api/v4/internal/mail_room/incoming_email"
            :content_type: "text/plain"
            :jwt_auth_header: "Gitlab-Mailroom-Api-Request"
            :jwt_issuer: "#{issuer}"
            :jwt_algorithm: "HS256"
            :jwt_secret_path: #{incoming_path.inspect}
    YAML
    path
  end

  def problems(doctor)
    doctor.run.select { |f| f.level == :problem }.map(&:to_s)
  end

  it "is happy with good files on both sides and names each by its fingerprint" do
    doctor = described_class.new(config: gitlab_yml, mail_room_config: mail_room_yml, user: me)
    expect(problems(doctor)).to eq([])
    expect(doctor).to be_ok
    report = doctor.findings.join("\n")
    expect(report).to include("fingerprint #{MailroomJWT::Key.read(incoming).fingerprint}")
    expect(report).to include("mail_room signs with #{incoming}")
    expect(report).not_to include(File.read(incoming))
  end

  it "finds a missing file and says how to create it" do
    missing = File.join(@dir, "nope")
    doctor = described_class.new(config: gitlab_yml(incoming_file: missing), user: me)
    expect(problems(doctor)).to eq(["PROBLEM incoming_email: GitLab secret #{missing} does not exist: " \
                                    "create it with mailroom-jwt keygen #{missing}"])
    expect(doctor).not_to be_ok
  end

  it "finds a file that is not 32 bytes of strict base64, without showing it" do
    File.write(incoming, Base64.strict_encode64(Random.bytes(31)))
    found = problems(described_class.new(config: gitlab_yml, user: me))
    expect(found.size).to eq(1)
    expect(found.first).to include(incoming, "keygen --force")
    expect(found.first).not_to include(File.read(incoming))
  end

  it "finds a file others can read, and one that belongs to someone else" do
    File.chmod(0o640, incoming)
    found = problems(described_class.new(config: gitlab_yml, user: someone_else))
    expect(found).to include("PROBLEM incoming_email: GitLab secret #{incoming} is readable by group or others " \
                             "(mode 0640): run chmod 600 #{incoming}")
    expect(found).to include("PROBLEM service_desk_email: GitLab secret #{service_desk} belongs to #{me}, " \
                             "not to the service user #{someone_else}: run chown #{someone_else} #{service_desk}")
  end

  it "finds mail_room signing with a secret GitLab does not accept" do
    other = write_secret_file(File.join(@dir, "other"))
    found = problems(described_class.new(config: gitlab_yml, mail_room_config: mail_room_yml(incoming_path: other),
                                         user: me))
    expect(found.size).to eq(1)
    expect(found.first).to include("mail_room signs with #{other} (fingerprint #{MailroomJWT::Key.read(other).fingerprint})",
                                   "GitLab accepts only #{incoming}")
  end

  it "accepts a sender on the new secret while the receiver lists old and new (rotation)" do
    new_secret = write_secret_file(File.join(@dir, "new"))
    doctor = described_class.new(config: gitlab_yml(incoming_file: [incoming, new_secret]),
                                 mail_room_config: mail_room_yml(incoming_path: [new_secret, incoming]), user: me)
    expect(problems(doctor)).to eq([])
  end

  it "compares the secrets, not the paths" do
    copy = File.join(@dir, "copy")
    File.write(copy, File.read(incoming))
    File.chmod(0o600, copy)
    expect(problems(described_class.new(config: gitlab_yml, mail_room_config: mail_room_yml(incoming_path: copy),
                                        user: me))).to eq([])
  end

  it "finds the wrong issuer on the sender" do
    found = problems(described_class.new(config: gitlab_yml, mail_room_config: mail_room_yml(issuer: "mailroom"),
                                         user: me))
    expect(found).to eq(['PROBLEM incoming_email: mail_room jwt_issuer is "mailroom"; GitLab accepts only ' \
                         "gitlab-mailroom: set jwt_issuer: gitlab-mailroom"])
  end

  it "reads the sections at the top level too, as the receiver does" do
    path = File.join(@dir, "flat.yml")
    File.write(path, YAML.dump("incoming_email" => { "enabled" => "true", "address" => "in@example.com",
                                                     "secret_file" => [incoming] }))
    doctor = described_class.new(config: path, user: me)
    expect(problems(doctor)).to eq([])
    expect(doctor.findings.map(&:to_s)).to include(/ok      incoming_email: GitLab secret #{Regexp.escape(incoming)}/)
  end

  it "skips a disabled mailbox" do
    doctor = described_class.new(config: gitlab_yml(service_desk_file: "/nonexistent", service_desk_enabled: false),
                                 user: me)
    expect(problems(doctor)).to eq([])
    expect(doctor.findings.map(&:to_s)).to include(/service_desk_email: disabled/)
  end

  it "raises the gem's error for a configuration it cannot read" do
    expect { described_class.new(config: File.join(@dir, "none.yml")).run }
      .to raise_error(MailroomJWT::Error, /none\.yml: no such file/)
    File.write(File.join(@dir, "bad.yml"), "a: [")
    expect { described_class.new(config: File.join(@dir, "bad.yml")).run }
      .to raise_error(MailroomJWT::Error, /not valid YAML/)
  end
end
