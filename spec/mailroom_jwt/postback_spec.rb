# frozen_string_literal: true

require "jwt"
require "tmpdir"

RSpec.describe MailroomJWT::Postback do
  around do |example|
    Dir.mktmpdir("postback-spec") do |dir|
      @dir = dir
      example.run
    end
  end

  let(:secret) { Random.bytes(32) }
  let(:secret_path) { write_secret_file(File.join(@dir, "secret"), secret) }
  let(:email) { "From: a@example.com\r\nTo: b@example.com\r\nSubject: hi\r\n\r\nHello \xE9\xFF\r\n".b }
  let(:log) { string_logger }
  let(:logger) { log.first }
  let(:log_lines) { log.last.string.lines }

  def options(url, **extra)
    { delivery_url: url, content_type: "text/plain", jwt_auth_header: "Gitlab-Mailroom-Api-Request",
      jwt_issuer: "gitlab-mailroom", jwt_secret_path: secret_path, logger: logger,
      open_timeout: 2, read_timeout: 5, retry_base_delay: 0.01, retry_max_delay: 0.05 }.merge(extra)
  end

  def claims(request)
    JWT.decode(request.headers.fetch("gitlab-mailroom-api-request"), secret, true,
               algorithm: "HS256", iss: "gitlab-mailroom", verify_iss: true).first
  end

  it "posts the exact email bytes with a token GitLab's ruby-jwt accepts, and is true on a 2xx" do
    with_recording_server do |server|
      expect(described_class.new(options(server.url)).deliver(email)).to be(true)

      request = the_only(server.all_requests)
      expect(request.path).to eq("/api/v4/internal/mail_room/incoming_email")
      expect(request.body).to eq(email)
      expect(request.headers["content-type"]).to eq("text/plain")
      expect(claims(request).keys).to eq(%w[nonce iat iss])
    end
  end

  it "logs one structured line per delivery, without the token or the body" do
    with_recording_server do |server|
      described_class.new(options(server.url.sub("http://", "http://user:pw@"))).deliver(email)
      token = the_only(server.all_requests).headers["gitlab-mailroom-api-request"]

      expect(log_lines.size).to eq(1)
      line = JSON.parse(log_lines.first[/\{.*\}/])
      expect(line).to include("url" => server.url, "status_code" => 200, "attempts" => 1,
                              "action" => "message pushed")
      expect(log_lines.first).not_to include(token)
      expect(log_lines.first).not_to include("Hello")
      expect(log_lines.first).not_to include("pw")
    end
  end

  it "accepts mail_room's option names with String keys and the short names" do
    with_recording_server do |server|
      opts = options(server.url).transform_keys(&:to_s)
      opts["url"] = opts.delete("delivery_url")
      opts["token"] = "api-token"
      expect(described_class.new(opts).deliver(email)).to be(true)

      request = the_only(server.all_requests)
      expect(request.headers["authorization"]).to eq("Token api-token")
      expect(claims(request)["iss"]).to eq("gitlab-mailroom")
    end
  end

  it "sends basic auth from username and password" do
    with_recording_server do |server|
      described_class.new(options(server.url, delivery_username: "u", delivery_password: "p:w")).deliver(email)
      expect(the_only(server.all_requests).headers["authorization"]).to eq("Basic #{['u:p:w'].pack('m0')}")
    end
  end

  it "sends no token when mail_room would send none (no header configured)" do
    with_recording_server do |server|
      described_class.new(options(server.url, jwt_auth_header: nil)).deliver(email)
      expect(the_only(server.all_requests).headers).not_to have_key("gitlab-mailroom-api-request")
    end
  end

  it "sends what mail_room's own postback sends" do
    require_mail_room("mail_room/delivery/postback")
    with_recording_server do |server|
      mailbox = MailRoom::Mailbox.new(name: "inbox", email: "e", password: "p", host: "h",
                                      delivery_options: options(server.url).except(:logger))
      MailRoom::Delivery::Postback.new(MailRoom::Delivery::Postback::Options.new(mailbox)).deliver(email)
      described_class.new(options(server.url)).deliver(email)

      theirs, ours = server.all_requests
      expect(ours.body).to eq(theirs.body)
      expect(ours.headers["content-type"]).to eq(theirs.headers["content-type"])
      their_claims = claims(theirs)
      expect(claims(ours).keys).to eq(their_claims.keys)
      expect(claims(ours)["iss"]).to eq(their_claims["iss"])
    end
  end

  it "never retries a 4xx and reports failure" do
    with_recording_server(->(_req) { [401, '{"message":"401 Unauthorized"}'] }) do |server|
      result = described_class.new(options(server.url, max_attempts: 5)).deliver_with_result(email)
      expect(result.success?).to be(false)
      expect(result.status).to eq(401)
      expect(result.attempts).to eq(1)
      expect(server.all_requests.size).to eq(1)
      expect(JSON.parse(the_only(log_lines)[/\{.*\}/])).to include("status_code" => 401, "action" => "message not delivered")
    end
  end

  it "retries a 5xx with a fresh token each time until a 2xx" do
    answers = [[502, "bad gateway"], [503, "busy"], [200, '{"success":true}']]
    with_recording_server(->(_req) { answers.shift }) do |server|
      result = described_class.new(options(server.url, max_attempts: 5)).deliver_with_result(email)
      expect(result.success?).to be(true)
      expect(result.attempts).to eq(3)

      requests = server.all_requests
      expect(requests.size).to eq(3)
      expect(requests.map(&:body).uniq).to eq([email])
      expect(requests.map { |r| claims(r)["nonce"] }.uniq.size).to eq(3)
    end
  end

  it "gives up after max_attempts on a receiver that keeps failing" do
    with_recording_server(->(_req) { [500, "oops"] }) do |server|
      result = described_class.new(options(server.url, max_attempts: 3)).deliver_with_result(email)
      expect(result.success?).to be(false)
      expect(result.status).to eq(500)
      expect(server.all_requests.size).to eq(3)
    end
  end

  it "makes the first retry within a second with the default backoff" do
    times = []
    answer = lambda do |_req|
      times << Process.clock_gettime(Process::CLOCK_MONOTONIC)
      times.size == 1 ? [503, "busy"] : [200, "{}"]
    end
    with_recording_server(answer) do |server|
      opts = options(server.url).except(:retry_base_delay, :retry_max_delay)
      expect(described_class.new(opts).deliver(email)).to be(true)
      expect(times.size).to eq(2)
      expect(times[1] - times[0]).to be < 1.0
    end
  end

  it "bounds the backoff: exponential, jittered, capped" do
    postback = described_class.new(options("http://127.0.0.1:9/", retry_base_delay: 0.5, retry_max_delay: 4))
    delays = (1..8).map { |n| Array.new(20) { postback.send(:backoff, n) } }
    expect(delays[0]).to all(be_between(0.25, 0.5))
    expect(delays[1]).to all(be_between(0.5, 1.0))
    expect(delays[7]).to all(be_between(2.0, 4.0))
    expect(delays[0].uniq.size).to be > 1
  end

  it "retries a refused connection, then reports failure" do
    port = TCPServer.open("127.0.0.1", 0) { |s| s.addr[1] } # now closed: refused
    result = described_class.new(options("http://127.0.0.1:#{port}/x", max_attempts: 3)).deliver_with_result(email)
    expect(result.success?).to be(false)
    expect(result.attempts).to eq(3)
    expect(result.error).to include("ECONNREFUSED")
  end

  it "times out on a receiver that never answers, and retries" do
    silent = lambda do |socket, _index|
      SenderSpecHelpers::RawServer.read_request(socket)
      sleep 5
    end
    with_raw_server(silent) do |server|
      started = Process.clock_gettime(Process::CLOCK_MONOTONIC)
      result = described_class.new(options(server.url, read_timeout: 0.3, max_attempts: 2)).deliver_with_result(email)
      expect(result.success?).to be(false)
      expect(result.error).to include("Net::ReadTimeout")
      expect(server.connections).to eq(2)
      expect(Process.clock_gettime(Process::CLOCK_MONOTONIC) - started).to be < 3
    end
  end

  it "recovers from a connection closed without an answer" do
    flaky = lambda do |socket, index|
      SenderSpecHelpers::RawServer.read_request(socket)
      if index.zero?
        socket.close
      else
        SenderSpecHelpers::RawServer.respond(socket, 200, '{"success":true}')
      end
    end
    with_raw_server(flaky) do |server|
      result = described_class.new(options(server.url)).deliver_with_result(email)
      expect(result.success?).to be(true)
      expect(result.attempts).to eq(2)
    end
  end

  it "keeps the connection alive between deliveries" do
    keep_alive = lambda do |socket, _index|
      3.times do
        SenderSpecHelpers::RawServer.read_request(socket)
        SenderSpecHelpers::RawServer.respond(socket, 200, '{"success":true}')
      end
    end
    with_raw_server(keep_alive) do |server|
      postback = described_class.new(options(server.url))
      3.times { expect(postback.deliver(email)).to be(true) }
      expect(server.connections).to eq(1)
      postback.close
    end
  end

  it "sends nothing and reports failure when the secret file is broken" do
    with_recording_server do |server|
      File.write(secret_path, "not base64!")
      result = described_class.new(options(server.url, max_attempts: 3)).deliver_with_result(email)
      expect(result.success?).to be(false)
      expect(result.attempts).to eq(1)
      expect(result.error).to include(secret_path)
      expect(server.all_requests).to be_empty
      expect(the_only(log_lines)).to include(secret_path)
    end
  end

  describe "configuration errors" do
    it "refuses an algorithm other than HS256" do
      expect { described_class.new(options("http://127.0.0.1:9/", jwt_algorithm: "HS512")) }
        .to raise_error(MailroomJWT::SenderConfigurationError, /HS256/)
    end

    it "refuses a missing or non-HTTP URL" do
      [nil, "", "ftp://example.com/x", "http://"].each do |url|
        expect { described_class.new(options(url)) }.to raise_error(MailroomJWT::SenderConfigurationError)
      end
    end

    it "refuses bad timeouts and attempt counts" do
      [{ read_timeout: 0 }, { open_timeout: -1 }, { max_attempts: 0 }, { max_attempts: "3" }].each do |bad|
        expect { described_class.new(options("http://127.0.0.1:9/", **bad)) }
          .to raise_error(MailroomJWT::SenderConfigurationError)
      end
    end

    it "refuses delivery options that are not a Hash" do
      expect { described_class.new("http://127.0.0.1:9/") }.to raise_error(MailroomJWT::SenderConfigurationError)
    end
  end

  describe "opt-in binding (issue 7)" do
    it "adds the mailbox type from the URL as aud and the body digest" do
      with_recording_server do |server|
        described_class.new(options(server.url, jwt_audience: true, jwt_body_digest: true, jwt_expires_in: 30))
                       .deliver(email)
        request = the_only(server.all_requests)
        payload = claims(request)
        expect(payload["aud"]).to eq("incoming_email")
        expect(payload["body_sha256"]).to eq(b64url(OpenSSL::Digest.digest("SHA256", request.body)))
        expect(payload["exp"]).to eq(payload["iat"] + 30)
      end
    end

    it "takes an explicit audience" do
      with_recording_server do |server|
        described_class.new(options(server.url, jwt_audience: "service_desk_email")).deliver(email)
        expect(claims(the_only(server.all_requests))["aud"]).to eq("service_desk_email")
      end
    end
  end
end
