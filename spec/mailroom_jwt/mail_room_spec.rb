# frozen_string_literal: true

require "jwt"
require "open3"
require "rbconfig"
require "tmpdir"

RSpec.describe "mailroom_jwt/mail_room" do
  around do |example|
    Dir.mktmpdir("mail-room-spec") do |dir|
      @dir = dir
      example.run
    end
  end

  before do
    require_mail_room("mail_room/delivery/postback")
    verbose = $VERBOSE
    $VERBOSE = nil
    require "mailroom_jwt/mail_room"
  ensure
    $VERBOSE = verbose
  end

  let(:secret) { Random.bytes(32) }
  let(:secret_path) { write_secret_file(File.join(@dir, "secret"), secret) }

  # A mailbox exactly as GitLab's config/mail_room.yml describes one.
  def mailbox(url, **delivery_options)
    MailRoom::Mailbox.new(
      name: "inbox", email: "incoming@example.com", password: "imap-password", host: "127.0.0.1", port: 143,
      delivery_method: "postback",
      delivery_options: {
        delivery_url: url, content_type: "text/plain", jwt_auth_header: "Gitlab-Mailroom-Api-Request",
        jwt_issuer: "gitlab-mailroom", jwt_algorithm: "HS256", jwt_secret_path: secret_path
      }.merge(delivery_options)
    )
  end

  it "makes a postback mailbox deliver through MailroomJWT::Postback" do
    box = mailbox("http://127.0.0.1:9/")
    expect(MailRoom::Delivery["postback"]).to be(MailroomJWT::Postback)
    expect(box.delivery).to be_a(MailroomJWT::Postback)
    expect(box.delivery.options.jwt).to be_a(MailroomJWT::Token)
  end

  it "leaves the other delivery methods alone" do
    expect(MailRoom::Delivery["noop"]).to be(MailRoom::Delivery::Noop)
    expect(MailRoom::Delivery["logger"]).to be(MailRoom::Delivery::Logger)
  end

  it "switches over a mailbox that resolved mail_room's postback before the require" do
    box = mailbox("http://127.0.0.1:9/", delivery_token: nil)
    box[:delivery_klass] = MailRoom::Delivery::Postback
    expect(box.delivery_klass).to be(MailroomJWT::Postback)
  end

  it "delivers a mail_room message with a token that GitLab's ruby-jwt check accepts" do
    with_recording_server do |server|
      box = mailbox(server.url)
      email = "Subject: hello\r\n\r\nbody\r\n"
      expect(box.deliver(MailRoom::Message.new(uid: 1, body: email))).to be(true)

      request = the_only(server.all_requests)
      expect(request.body).to eq(email)
      payload, header = JWT.decode(request.headers["gitlab-mailroom-api-request"], secret, true,
                                   algorithm: "HS256", iss: "gitlab-mailroom", verify_iss: true)
      expect(header).to eq("alg" => "HS256")
      expect(payload.keys).to eq(%w[nonce iat iss])
    end
  end

  it "tells mail_room that a refused email was not delivered" do
    with_recording_server(->(_req) { [401, '{"message":"401 Unauthorized"}'] }) do |server|
      box = mailbox(server.url)
      expect(box.deliver(MailRoom::Message.new(uid: 1, body: "Subject: x\r\n\r\n"))).to be(false)
    end
  end

  it "reads mail_room's YAML configuration unchanged" do
    config = File.join(@dir, "mail_room.yml")
    File.write(config, <<~YAML)
      :mailboxes:
        - :email: "incoming@example.com"
          :password: "secret"
          :host: "127.0.0.1"
          :name: "inbox"
          :delivery_method: postback
          :delivery_options:
            :delivery_url: "http://127.0.0.1:9/api/v4/internal/mail_room/incoming_email"
            :content_type: "text/plain"
            :jwt_auth_header: "Gitlab-Mailroom-Api-Request"
            :jwt_issuer: "gitlab-mailroom"
            :jwt_algorithm: "HS256"
            :jwt_secret_path: "#{secret_path}"
    YAML
    box = MailRoom::Configuration.new(config_path: config).mailboxes.first
    expect(box.delivery).to be_a(MailroomJWT::Postback)
    expect(box.delivery.options.jwt.secret_path).to eq(secret_path)
  end

  it "is loaded only when required: the core loads neither mail_room nor any other integration" do
    script = 'require "mailroom_jwt"; MailroomJWT::Token; MailroomJWT::Postback; ' \
             'puts $LOADED_FEATURES.grep(%r{/(mail_room|rack|sidekiq|faraday|jwt)(/|\.rb)}).size'
    out, status = Open3.capture2e(RbConfig.ruby, "-I", File.expand_path("../../lib", __dir__), "-e", script)
    expect(status.success?).to be(true), out
    expect(out.strip).to eq("0")
  end
end
