# frozen_string_literal: true

begin
  verbose, $VERBOSE = $VERBOSE, nil # the gem redefines methods of its own Struct at load
  require "mail_room"
  require "mail_room/delivery/postback"
ensure
  $VERBOSE = verbose
end
require "mailroom_jwt/queue/sidekiq"
require "sidekiq/api"

# Today's mail_room, unchanged (the real gem's Postback delivery, Faraday
# underneath), posting to this gem's endpoint over HTTP on 127.0.0.1, which
# queues into a real Redis for GitLab's Sidekiq workers.
RSpec.describe "Today's mail_room delivering to the InternalAPI", :integration do
  let!(:incoming_secret) { new_secret_file("incoming") }
  let!(:service_desk_secret) { new_secret_file("service_desk") }
  let(:redis) { RedisServer.shared }
  let(:app) do
    MailroomJWT::InternalAPI.new(
      authenticator: MailroomJWT::Authenticator.new(
        MailroomJWT::Mailboxes.new(
          incoming_email: { enabled: true, address: "in@example.com", secret_file: secret_path("incoming") },
          service_desk_email: { enabled: true, address: "sd@example.com", secret_file: secret_path("service_desk") }
        )
      ),
      queue: MailroomJWT::Queue::Sidekiq.new(redis_url: redis.url), logger: nil
    )
  end
  let(:server) { ReceiverHTTPServer.start(app) }
  let(:mail_room_log) { StringIO.new }

  before do
    redis.flushall
    Sidekiq.default_configuration.logger.level = Logger::WARN
    Sidekiq.configure_client { |config| config.redis = { url: redis.url } }
  end

  after { server.stop }

  # A mailbox configured as GitLab's config/mail_room.yml configures it.
  def postback(mailbox_type, secret_file)
    mailbox = MailRoom::Mailbox.new(
      email: "#{mailbox_type}@example.com", password: "unused", name: "inbox",
      logger: { log_path: File.join(receiver_tmpdir, "mail_room.log") },
      delivery_method: "postback",
      delivery_options: {
        delivery_url: server.url("/api/v4/internal/mail_room/#{mailbox_type}"),
        content_type: "text/plain",
        jwt_auth_header: "Gitlab-Mailroom-Api-Request",
        jwt_issuer: "gitlab-mailroom",
        jwt_algorithm: "HS256",
        jwt_secret_path: secret_file
      }
    )
    MailRoom::Delivery::Postback.new(MailRoom::Delivery::Postback::Options.new(mailbox))
  end

  it "queues each mailbox's email for its worker" do
    incoming = sample_email(subject: "to incoming")
    service_desk = sample_email(subject: "to service desk")

    postback("incoming_email", secret_path("incoming")).deliver(incoming)
    postback("service_desk_email", secret_path("service_desk")).deliver(service_desk)

    expect(Sidekiq::Queue.new("email_receiver").map { |j| [j.klass, j.args] })
      .to eq([["EmailReceiverWorker", [incoming]]])
    expect(Sidekiq::Queue.new("service_desk_email_receiver").map { |j| [j.klass, j.args] })
      .to eq([["ServiceDeskEmailReceiverWorker", [service_desk]]])
  end

  it "queues nothing when mail_room signs with the other mailbox's secret" do
    postback("incoming_email", secret_path("service_desk")).deliver(sample_email)

    expect(Sidekiq::Queue.new("email_receiver").size).to eq(0)
    expect(File.read(File.join(receiver_tmpdir, "mail_room.log"))).to include('"status_code":401')
  end
end
