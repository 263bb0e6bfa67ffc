# frozen_string_literal: true

require "tmpdir"

# The real gitlab-mail_room gem, with `require "mailroom_jwt/mail_room"`,
# delivering through its own Mailbox to the real receiver (InternalAPI on a
# Puma server on 127.0.0.1): the email must land in the queue.
RSpec.describe "mail_room delivering to the internal API", :integration do
  around do |example|
    Dir.mktmpdir("mail-room-integration") do |dir|
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

  let(:incoming_secret) { write_secret_file(File.join(@dir, ".gitlab_incoming_email_secret")) }
  let(:service_desk_secret) { write_secret_file(File.join(@dir, ".gitlab_service_desk_email_secret")) }
  let(:spool) { MailroomJWT::Queue::Spool.new(File.join(@dir, "spool"), fsync: false) }
  let(:receiver_log) { string_logger }

  def mailboxes(incoming: incoming_secret)
    MailroomJWT::Mailboxes.new(
      { "incoming_email" => { "enabled" => true, "address" => "in+%{key}@example.com", "secret_file" => incoming },
        "service_desk_email" => { "enabled" => true, "address" => "sd@example.com",
                                  "secret_file" => service_desk_secret } },
      logger: nil
    )
  end

  def with_receiver(queue: spool, **auth_options)
    authenticator = MailroomJWT::Authenticator.new(auth_options.delete(:mailboxes) || mailboxes, **auth_options)
    api = MailroomJWT::InternalAPI.new(authenticator: authenticator, queue: queue, logger: receiver_log.first)
    server = MailroomJWT::ReceiverServer.new(api, port: 0).start
    yield server
  ensure
    server&.stop
  end

  # A mailbox as GitLab's config/mail_room.yml configures one.
  def mail_room_mailbox(url, secret, **delivery_options)
    MailRoom::Mailbox.new(
      name: "inbox", email: "incoming@example.com", password: "imap-password", host: "127.0.0.1", port: 993,
      delivery_method: "postback",
      delivery_options: {
        delivery_url: url, content_type: "text/plain", jwt_auth_header: "Gitlab-Mailroom-Api-Request",
        jwt_issuer: "gitlab-mailroom", jwt_algorithm: "HS256", jwt_secret_path: secret,
        retry_base_delay: 0.01
      }.merge(delivery_options)
    )
  end

  def deliver(mailbox, body, uid: 1)
    mailbox.deliver(MailRoom::Message.new(uid: uid, body: body))
  end

  let(:email) { "From: a@example.com\r\nSubject: =?UTF-8?B?w6k=?=\r\n\r\nCaf\xC3\xA9 \xE9\r\n".b }

  it "lands each mailbox's email in its own queue" do
    with_receiver do |server|
      incoming = mail_room_mailbox(server.url("incoming_email"), incoming_secret)
      service_desk = mail_room_mailbox(server.url("service_desk_email"), service_desk_secret)
      expect(incoming.delivery).to be_a(MailroomJWT::Postback)

      expect(deliver(incoming, email)).to be(true)
      expect(deliver(service_desk, "Subject: help\r\n\r\nplease\r\n")).to be(true)

      queued = the_only(spool.pending("incoming_email"))
      expect(File.binread(queued)).to eq(MailroomJWT::UTF8.encode(email).b)
      expect(File.binread(the_only(spool.pending("service_desk_email")))).to eq("Subject: help\r\n\r\nplease\r\n")
    end
  end

  it "lands the email in GitLab's Sidekiq queue through the real Sidekiq client" do
    redis = RedisServer.shared
    redis.flushall
    queue = MailroomJWT::Queue::Sidekiq.new(redis_url: redis.url)
    with_receiver(queue: queue) do |server|
      expect(deliver(mail_room_mailbox(server.url("incoming_email"), incoming_secret), email)).to be(true)
    end
    job = JSON.parse(the_only(redis.command("LRANGE", "queue:email_receiver", "0", "-1")))
    expect(job["class"]).to eq("EmailReceiverWorker")
    expect(job["args"]).to eq([MailroomJWT::UTF8.encode(email)])
  end

  it "reports a refused email as not delivered, and nothing is queued" do
    with_receiver do |server|
      other = write_secret_file(File.join(@dir, "other_secret"))
      expect(deliver(mail_room_mailbox(server.url("incoming_email"), other), email)).to be(false)
      expect(deliver(mail_room_mailbox(server.url("service_desk_email"), incoming_secret), email)).to be(false)
      expect(spool.pending("incoming_email")).to be_empty
      expect(spool.pending("service_desk_email")).to be_empty
    end
  end

  it "binds the token to the body and the mailbox when both ends opt in" do
    with_receiver(require_audience: true, require_body_digest: true) do |server|
      url = server.url("incoming_email")
      plain = mail_room_mailbox(url, incoming_secret)
      bound = mail_room_mailbox(url, incoming_secret, jwt_audience: true, jwt_body_digest: true)

      expect(deliver(plain, email)).to be(false) # today's token: refused by the hardened receiver
      expect(deliver(bound, email)).to be(true)
      expect(the_only(spool.pending("incoming_email"))).to be_a(String)
    end
  end

  it "accepts an exp-bearing token within its lifetime" do
    with_receiver do |server|
      box = mail_room_mailbox(server.url("incoming_email"), incoming_secret, jwt_expires_in: 60)
      expect(deliver(box, email)).to be(true)
    end
  end

  it "loses no email while the secret is rotated during delivery (the three steps)" do
    new_secret = write_secret_file(File.join(@dir, "new_secret"))
    sender_secret = File.join(@dir, "sender_secret")
    File.write(sender_secret, File.read(incoming_secret))
    File.chmod(0o600, sender_secret)
    results = []

    # Step 1: the receiver accepts the old and the new secret.
    with_receiver(mailboxes: mailboxes(incoming: [incoming_secret, new_secret])) do |server|
      box = mail_room_mailbox(server.url("incoming_email"), sender_secret)
      20.times do |i|
        # Step 2, halfway: the sender's file is replaced by the new secret, without a restart.
        if i == 10
          File.write("#{sender_secret}.tmp", File.read(new_secret))
          File.chmod(0o600, "#{sender_secret}.tmp")
          File.rename("#{sender_secret}.tmp", sender_secret)
        end
        results << deliver(box, "Subject: #{i}\r\n\r\n", uid: i)
      end
      expect(box.delivery.options.jwt.key).to eq(MailroomJWT::Key.read(new_secret))
    end

    # Step 3: the old secret is retired on the receiver.
    with_receiver(mailboxes: mailboxes(incoming: [new_secret])) do |server|
      box = mail_room_mailbox(server.url("incoming_email"), sender_secret)
      5.times { |i| results << deliver(box, "Subject: after #{i}\r\n\r\n", uid: 100 + i) }
      old_sender = mail_room_mailbox(server.url("incoming_email"), incoming_secret)
      expect(deliver(old_sender, "Subject: old\r\n\r\n")).to be(false)
    end

    expect(results).to eq([true] * 25)
    expect(spool.pending("incoming_email").size).to eq(25)
  end
end
