# frozen_string_literal: true

require "net/http"
require "mail_room/jwt" # before the sender thread starts

# Rotating a mailbox secret on a running pair, in three steps, while mail
# keeps flowing: nothing is refused, nothing is lost.
#   receiver: secret_file: [current, next]    sender (mail_room): its own secret file
#   1. add:     a new key goes into `next`      (receiver accepts old and new)
#   2. promote: the sender's file gets the new key (mail_room re-reads it per email)
#   3. retire:  `current` gets the new key too  (the old key is accepted nowhere)
RSpec.describe "Secret rotation while delivering", :integration do
  let!(:old_key_bytes) { new_secret_file("current") }
  let(:sender_secret) { secret_path("sender") }
  let(:spool) { MailroomJWT::Queue::Spool.new(File.join(receiver_tmpdir, "spool")) }
  let(:app) do
    mailboxes = MailroomJWT::Mailboxes.new(
      incoming_email: { enabled: true, address: "a@example.com",
                        secret_file: [secret_path("current"), secret_path("next")] }
    )
    MailroomJWT::InternalAPI.new(authenticator: MailroomJWT::Authenticator.new(mailboxes), queue: spool, logger: nil)
  end
  let(:server) { ReceiverHTTPServer.start(app) }

  before do
    FileUtils.cp(secret_path("current"), secret_path("next")) # before rotation both hold the old key
    FileUtils.cp(secret_path("current"), sender_secret)
  end

  after { server.stop }

  def deliver(http, uri, body)
    request = Net::HTTP::Post.new(uri, "Content-Type" => "text/plain",
                                       "Gitlab-Mailroom-Api-Request" => mail_room_token(sender_secret))
    request.body = body
    http.request(request).code
  end

  it "adds, promotes and retires a secret without a refused or lost email" do
    uri = URI(server.url("/api/v4/internal/mail_room/incoming_email"))
    results = Thread::Queue.new
    stop = false
    sender = Thread.new do
      Net::HTTP.start(uri.host, uri.port, open_timeout: 5, read_timeout: 10) do |http|
        n = 0
        until stop || n >= 5000
          body = "Subject: #{n}\n\nmail #{n}\n"
          results << [deliver(http, uri, body), body]
          n += 1
        end
      end
    end

    wait_for = lambda do |count|
      deadline = Process.clock_gettime(Process::CLOCK_MONOTONIC) + 20
      start = results.size
      sleep 0.01 until results.size >= start + count || Process.clock_gettime(Process::CLOCK_MONOTONIC) > deadline
    end

    wait_for.call(20)
    new_key = MailroomJWT::Key.generate
    new_key.write(secret_path("next")) # 1. add
    wait_for.call(20)
    new_key.write(sender_secret)        # 2. promote
    wait_for.call(20)
    new_key.write(secret_path("current")) # 3. retire
    wait_for.call(20)
    stop = true
    sender.join(20)

    delivered = Array.new(results.size) { results.pop }
    expect(delivered.size).to be >= 80
    expect(delivered.map(&:first).tally).to eq("200" => delivered.size)
    stored = spool.pending("incoming_email").map { |p| File.read(p) }
    expect(stored.sort).to eq(delivered.map(&:last).sort)

    # The old key is retired: a token made with it is refused now.
    old_file = secret_path("old")
    File.write(old_file, [old_key_bytes].pack("m0"))
    Net::HTTP.start(uri.host, uri.port) do |http|
      request = Net::HTTP::Post.new(uri, "Gitlab-Mailroom-Api-Request" => mail_room_token(old_file))
      request.body = "late"
      expect(http.request(request).code).to eq("401")
    end
  end
end
