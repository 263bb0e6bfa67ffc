# frozen_string_literal: true

require "net/http"
require "digest"
require "mail_room/jwt" # before the threads start

RSpec.describe "InternalAPI under concurrent delivery", :integration do
  let!(:secret) { new_secret_file("incoming") }
  let(:spool_dir) { File.join(receiver_tmpdir, "spool") }
  let(:spool) { MailroomJWT::Queue::Spool.new(spool_dir) }
  let(:app) do
    MailroomJWT::InternalAPI.new(
      authenticator: MailroomJWT::Authenticator.new(
        { incoming_email: { enabled: true, address: "a@example.com", secret_file: secret_path("incoming") } },
        replay_cache: MailroomJWT::ReplayCache::Memory.new
      ),
      queue: spool, logger: nil
    )
  end
  let(:server) { ReceiverHTTPServer.start(app, threads: 16) }

  after { server.stop }

  it "loses no email and writes no partial file when many threads post at once" do
    threads = 12
    per_thread = 15
    uri = URI(server.url("/api/v4/internal/mail_room/incoming_email"))
    sent = Array.new(threads) do |t|
      Thread.new do
        Net::HTTP.start(uri.host, uri.port, open_timeout: 5, read_timeout: 30) do |http|
          Array.new(per_thread) do |i|
            # Sizes from a few bytes to ~300 KB, so that writes interleave.
            email = "Subject: #{t}-#{i}\n\n#{"line #{t}-#{i} ピーター\n" * (1 + ((t * 7919 + i * 104_729) % 12_000))}"
            request = Net::HTTP::Post.new(uri, "Content-Type" => "text/plain",
                                               "Gitlab-Mailroom-Api-Request" => mail_room_token(secret_path("incoming")))
            request.body = email
            response = http.request(request)
            [response.code, email]
          end
        end
      end
    end.flat_map(&:value)

    expect(sent.map(&:first).tally).to eq("200" => threads * per_thread)
    stored = spool.pending("incoming_email").map { |path| File.binread(path).force_encoding(Encoding::UTF_8) }
    expect(stored.size).to eq(threads * per_thread)
    expect(stored.map { |s| Digest::SHA256.hexdigest(s) }.sort)
      .to eq(sent.map { |_, email| Digest::SHA256.hexdigest(email) }.sort)
    expect(Dir.children(File.join(spool_dir, "incoming_email", "tmp"))).to eq([])
  end
end
