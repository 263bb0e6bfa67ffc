# frozen_string_literal: true

require "jwt"
require "net/http"
require "rack"
require "rack/mock"
require "mailroom_jwt/queue/sidekiq"
require "sidekiq/api"

RSpec.describe MailroomJWT::InternalAPI do
  let(:now) { Time.now.to_i }
  let!(:incoming_email_secret) { new_secret_file("incoming") }
  let!(:service_desk_email_secret) { new_secret_file("service_desk") }
  let(:base_config) { { enabled: true, address: "address@example.com" } }
  let(:enabled_configs) do
    {
      incoming_email: base_config.merge(secret_file: secret_path("incoming")),
      service_desk_email: base_config.merge(secret_file: secret_path("service_desk"))
    }
  end
  let(:auth_options) { {} }
  let(:authenticator) do
    MailroomJWT::Authenticator.new(MailroomJWT::Mailboxes.new(enabled_configs), clock: -> { now }, **auth_options)
  end
  let(:redis) { RedisServer.shared }
  let(:queue) { MailroomJWT::Queue::Sidekiq.new(redis_url: redis.url) }
  let(:log) { StringIO.new }
  let(:app_options) { {} }
  let(:app) do
    described_class.new(authenticator: authenticator, queue: queue, logger: Logger.new(log), **app_options)
  end
  let(:auth_payload) { { "iss" => "gitlab-mailroom", "iat" => now - 10 } }
  let(:email_content) { sample_email }
  let(:too_large_message) do
    "We couldn't process your email because it is too large. Please create your issue or comment through the web interface."
  end

  before do
    redis.flushall
    Sidekiq.default_configuration.logger.level = Logger::WARN
    Sidekiq.configure_client { |config| config.redis = { url: redis.url } }
  end

  def auth_headers(secret, payload = auth_payload)
    { "HTTP_GITLAB_MAILROOM_API_REQUEST" => JWT.encode(payload, secret, "HS256") }
  end

  def post(path, headers: {}, body: nil)
    env = headers.dup
    env[:input] = body if body
    Rack::MockRequest.new(app).post(path, env)
  end

  def jobs(queue_name)
    Sidekiq::Queue.new(queue_name).to_a.reverse
  end

  def json(response)
    JSON.parse(response.body)
  end

  describe "POST /api/v4/internal/mail_room/*mailbox_type (GitLab's request spec)" do
    it "schedules an EmailReceiverWorker job with the raw email content" do
      response = post("/api/v4/internal/mail_room/incoming_email",
                      headers: auth_headers(incoming_email_secret), body: email_content)

      expect(response.status).to eq(200)
      expect(json(response)).to eq("success" => true)
      expect(jobs("email_receiver").map(&:args)).to eq([[email_content]])
      expect(jobs("email_receiver").last.klass).to eq("EmailReceiverWorker")
    end

    it "schedules a ServiceDeskEmailReceiverWorker job with the raw email content" do
      response = post("/api/v4/internal/mail_room/service_desk_email",
                      headers: auth_headers(service_desk_email_secret), body: email_content)

      expect(response.status).to eq(200)
      expect(jobs("service_desk_email_receiver").map(&:args)).to eq([[email_content]])
      expect(jobs("service_desk_email_receiver").last.klass).to eq("ServiceDeskEmailReceiverWorker")
      expect(jobs("email_receiver")).to eq([])
    end

    context "when the email is too large for the queue" do
      let(:queue) { MailroomJWT::Queue::Sidekiq.new(redis_url: redis.url, max_bytes: email_content.bytesize - 1) }

      it "responds 400 with GitLab's message and enqueues nothing" do
        response = post("/api/v4/internal/mail_room/incoming_email",
                        headers: auth_headers(incoming_email_secret), body: email_content)

        expect(response.status).to eq(400)
        expect(json(response)).to eq("success" => false, "message" => too_large_message)
        expect(jobs("email_receiver")).to eq([])
      end
    end

    it "responds 401 when not authenticated" do
      response = post("/api/v4/internal/mail_room/incoming_email")

      expect(response.status).to eq(401)
      expect(json(response)).to eq("message" => "401 Unauthorized")
    end

    it "responds 401 to a token signed with a wrong secret" do
      response = post("/api/v4/internal/mail_room/incoming_email", headers: auth_headers("wrongsecret"))

      expect(response.status).to eq(401)
    end

    it "responds 401 to a token signed with another mailbox's secret" do
      response = post("/api/v4/internal/mail_room/incoming_email", headers: auth_headers(service_desk_email_secret))

      expect(response.status).to eq(401)
    end

    it "responds 401 to a wrong issuer" do
      headers = auth_headers(incoming_email_secret, auth_payload.merge("iss" => "mailroom"))

      expect(post("/api/v4/internal/mail_room/incoming_email", headers: headers, body: email_content).status).to eq(401)
    end

    it "responds 401 to a token older than 5 minutes, and 200 at the boundary" do
      stale = auth_headers(incoming_email_secret, auth_payload.merge("iat" => now - 301))
      boundary = auth_headers(incoming_email_secret, auth_payload.merge("iat" => now - 300))

      expect(post("/api/v4/internal/mail_room/incoming_email", headers: stale, body: email_content).status).to eq(401)
      expect(post("/api/v4/internal/mail_room/incoming_email", headers: boundary, body: email_content).status).to eq(200)
      expect(jobs("email_receiver").size).to eq(1)
    end

    it "responds 401 to a mailbox type that is not supported" do
      response = post("/api/v4/internal/mail_room/invalid_mailbox_type", headers: auth_headers(incoming_email_secret))

      expect(response.status).to eq(401)
    end

    context "when the mailbox type is not enabled" do
      let(:enabled_configs) { { incoming_email: base_config.merge(secret_file: secret_path("incoming")) } }

      it "responds 401" do
        response = post("/api/v4/internal/mail_room/service_desk_email",
                        headers: auth_headers(service_desk_email_secret), body: email_content)

        expect(response.status).to eq(401)
        expect(jobs("service_desk_email_receiver")).to eq([])
      end
    end

    it "schedules the job with Shift_JIS email content converted to UTF-8" do
      text = sample_email(body: "Service desk reply!\nピーター・ジョーンズ\n\n/label ~label2\nピーター・ジョーンズ\n")
      shift_jis = text.encode(Encoding::Shift_JIS)
      response = post("/api/v4/internal/mail_room/incoming_email",
                      headers: auth_headers(incoming_email_secret), body: shift_jis.b)

      expect(response.status).to eq(200)
      expect(jobs("email_receiver").map(&:args)).to eq([[text]])
    end

    it "accepts a text/plain request and answers application/json" do
      headers = auth_headers(incoming_email_secret).merge("CONTENT_TYPE" => "text/plain")
      response = post("/api/v4/internal/mail_room/incoming_email", headers: headers, body: email_content)

      expect(response.status).to eq(200)
      expect(response.content_type).to eq("application/json")
      expect(jobs("email_receiver").map(&:args)).to eq([[email_content]])
    end
  end

  it "accepts tokens made by the real mail_room" do
    live = described_class.new(authenticator: MailroomJWT::Authenticator.new(enabled_configs), queue: queue,
                               logger: nil)
    headers = { "HTTP_GITLAB_MAILROOM_API_REQUEST" => mail_room_token(secret_path("incoming")) }
    response = Rack::MockRequest.new(live).post("/api/v4/internal/mail_room/incoming_email",
                                                headers.merge(input: email_content))

    expect(response.status).to eq(200)
    expect(jobs("email_receiver").map(&:args)).to eq([[email_content]])
  end

  describe "routing" do
    it "answers 404 for other paths and 405 (Allow: POST) for other methods" do
      expect(post("/api/v4/internal/other").status).to eq(404)
      expect(post("/api/v4/internal/mail_room/").status).to eq(404)
      get = Rack::MockRequest.new(app).get("/api/v4/internal/mail_room/incoming_email")
      expect(get.status).to eq(405)
      expect(get.headers["allow"]).to eq("POST")
      expect(JSON.parse(get.body)).to eq("message" => "405 Method Not Allowed")
    end

    it "answers below a Rails mount point (SCRIPT_NAME holds the prefix)" do
      env = Rack::MockRequest.env_for("/incoming_email", method: "POST", input: email_content)
      env["SCRIPT_NAME"] = "/api/v4/internal/mail_room"
      status, = app.call(env.merge(auth_headers(incoming_email_secret)))

      expect(status).to eq(200)
    end

    it "answers below a Rack map prefix" do
      mapped = Rack::URLMap.new("/gitlab" => app)
      response = Rack::MockRequest.new(mapped).post("/gitlab/api/v4/internal/mail_room/incoming_email",
                                                    auth_headers(incoming_email_secret).merge(input: email_content))

      expect(response.status).to eq(200)
      expect(jobs("email_receiver").size).to eq(1)
    end
  end

  describe "body size" do
    let(:app_options) { { max_body_bytes: 1000 } }
    let(:unreadable) do
      Class.new do
        def read(*)
          raise "the body must not be read"
        end
      end
    end

    it "answers 413 from Content-Length, before reading the body" do
      env = Rack::MockRequest.env_for("/api/v4/internal/mail_room/incoming_email", method: "POST")
      env.merge!(auth_headers(incoming_email_secret), "CONTENT_LENGTH" => "1001", "rack.input" => unreadable.new)
      status, _, body = app.call(env)

      expect(status).to eq(413)
      expect(JSON.parse(body.join)).to include("message" => "413 Payload Too Large")
    end

    it "answers 413 while reading a body without Content-Length (chunked)" do
      env = Rack::MockRequest.env_for("/api/v4/internal/mail_room/incoming_email", method: "POST", input: "x" * 1001)
      env.delete("CONTENT_LENGTH")
      status, = app.call(env.merge(auth_headers(incoming_email_secret)))

      expect(status).to eq(413)
      expect(jobs("email_receiver")).to eq([])
    end

    it "accepts exactly max_body_bytes" do
      response = post("/api/v4/internal/mail_room/incoming_email", headers: auth_headers(incoming_email_secret),
                                                                   body: "x" * 1000)

      expect(response.status).to eq(200)
    end

    it "authenticates first: an unauthenticated oversized request gets 401, its body unread" do
      env = Rack::MockRequest.env_for("/api/v4/internal/mail_room/incoming_email", method: "POST")
      env.merge!("CONTENT_LENGTH" => "5000000", "rack.input" => unreadable.new)

      expect(app.call(env)[0]).to eq(401)
    end

    it "answers 400 to a malformed Content-Length" do
      env = Rack::MockRequest.env_for("/api/v4/internal/mail_room/incoming_email", method: "POST", input: "x")
      env.merge!(auth_headers(incoming_email_secret), "CONTENT_LENGTH" => "1e3")

      expect(app.call(env)[0]).to eq(400)
    end
  end

  describe "failures that must not lose email" do
    let(:failing_queue) do
      Class.new do
        attr_reader :pushed

        def initialize
          @pushed = []
          @fail = true
        end

        def push(type, raw)
          if @fail
            @fail = false
            raise MailroomJWT::Queue::Unavailable, "down for a moment"
          end
          @pushed << [type, raw]
          "id-#{@pushed.size}"
        end
      end.new
    end
    let(:queue) { failing_queue }

    it "answers 503 with a JSON error and Retry-After when the queue is unavailable" do
      response = post("/api/v4/internal/mail_room/incoming_email", headers: auth_headers(incoming_email_secret),
                                                                   body: email_content)

      expect(response.status).to eq(503)
      expect(response.headers["retry-after"]).to eq("5")
      expect(json(response)).to include("success" => false, "message" => match(/503/))
    end

    context "with replay protection" do
      let(:auth_options) { { replay_cache: MailroomJWT::ReplayCache::Memory.new } }

      it "gives the nonce back, so the sender's retry of the same token is accepted" do
        headers = auth_headers(incoming_email_secret, auth_payload.merge("nonce" => SecureRandom.hex(12)))

        expect(post("/api/v4/internal/mail_room/incoming_email", headers: headers, body: email_content).status).to eq(503)
        expect(post("/api/v4/internal/mail_room/incoming_email", headers: headers, body: email_content).status).to eq(200)
        expect(failing_queue.pushed).to eq([["incoming_email", email_content]])
      end
    end

    it "answers 503 when the Redis-backed replay cache is down" do
      own = RedisServer.new.start
      cache = MailroomJWT::ReplayCache::Redis.new(redis_url: own.url, timeout: 0.5)
      own.stop
      api = described_class.new(authenticator: MailroomJWT::Authenticator.new(enabled_configs, replay_cache: cache),
                                queue: failing_queue, logger: nil)
      headers = { "HTTP_GITLAB_MAILROOM_API_REQUEST" => mail_room_token(secret_path("incoming")) }

      response = Rack::MockRequest.new(api).post("/api/v4/internal/mail_room/incoming_email",
                                                 headers.merge(input: email_content))
      expect(response.status).to eq(503)
      expect(failing_queue.pushed).to eq([])
    ensure
      own&.stop(remove_dir: true)
    end

    it "answers 500 (and logs why) when a secret file breaks at run time" do
      app
      File.delete(secret_path("incoming"))
      response = post("/api/v4/internal/mail_room/incoming_email", headers: auth_headers(incoming_email_secret),
                                                                   body: email_content)

      expect(response.status).to eq(500)
      expect(log.string).to include("secret configuration: Fail to read incoming_email's secret")
    end

    it "answers 500 without details when the queue raises something unexpected" do
      broken = Class.new { def push(*) = raise(NoMethodError, "boom") }.new
      api = described_class.new(authenticator: authenticator, queue: broken, logger: Logger.new(log))
      response = Rack::MockRequest.new(api).post("/api/v4/internal/mail_room/incoming_email",
                                                 auth_headers(incoming_email_secret).merge(input: email_content))

      expect(response.status).to eq(500)
      expect(response.body).not_to include("boom")
      expect(log.string).to include("internal error: NoMethodError")
    end
  end

  describe "logging" do
    it "logs one JSON line per request, with no token and no body" do
      headers = auth_headers(incoming_email_secret)
      post("/api/v4/internal/mail_room/incoming_email", headers: headers, body: email_content)
      post("/api/v4/internal/mail_room/incoming_email", headers: auth_headers("wrongsecret"), body: email_content)

      lines = log.string.lines.map { |l| JSON.parse(l[/\{.*\}/]) }
      expect(lines.map { |l| l.values_at("mailbox_type", "status") }).to eq([["incoming_email", 200], ["incoming_email", 401]])
      expect(lines[0]["bytes"]).to eq(email_content.bytesize)
      expect(lines[1]["reason"]).to eq("VerificationError: Signature verification failed")
      expect(log.string).not_to include(headers["HTTP_GITLAB_MAILROOM_API_REQUEST"])
      expect(log.string).not_to include("Jake the Dog")
    end
  end

  describe "receiver options (issue 7)" do
    context "with replay protection" do
      let(:auth_options) { { replay_cache: MailroomJWT::ReplayCache::Memory.new } }

      it "answers 401 to a replayed token and queues the email once" do
        headers = { "HTTP_GITLAB_MAILROOM_API_REQUEST" => mail_room_token(secret_path("incoming")) }

        expect(post("/api/v4/internal/mail_room/incoming_email", headers: headers, body: email_content).status).to eq(200)
        expect(post("/api/v4/internal/mail_room/incoming_email", headers: headers, body: email_content).status).to eq(401)
        expect(log.string).to include("ReplayedToken")
        expect(jobs("email_receiver").size).to eq(1)
      end

      it "answers 401 to a token without a nonce" do
        expect(post("/api/v4/internal/mail_room/incoming_email", headers: auth_headers(incoming_email_secret),
                                                                 body: email_content).status).to eq(401)
      end
    end

    context "with require_body_digest and require_audience" do
      let(:auth_options) { { require_body_digest: true, require_audience: true } }
      let(:bound) do
        auth_payload.merge("aud" => "incoming_email", "body_sha256" => body_sha256(email_content))
      end

      it "accepts the email the token was made for" do
        expect(post("/api/v4/internal/mail_room/incoming_email", headers: auth_headers(incoming_email_secret, bound),
                                                                 body: email_content).status).to eq(200)
      end

      it "answers 401 to a captured token carrying another email, and queues nothing" do
        response = post("/api/v4/internal/mail_room/incoming_email", headers: auth_headers(incoming_email_secret, bound),
                                                                     body: email_content.sub("Jake", "Evil"))

        expect(response.status).to eq(401)
        expect(log.string).to include("BodyMismatch")
        expect(jobs("email_receiver")).to eq([])
      end

      it "answers 401 to a token made for another mailbox" do
        other = bound.merge("aud" => "service_desk_email")

        expect(post("/api/v4/internal/mail_room/incoming_email", headers: auth_headers(incoming_email_secret, other),
                                                                 body: email_content).status).to eq(401)
      end

      it "answers 401 to today's mail_room tokens (they bind nothing)" do
        headers = { "HTTP_GITLAB_MAILROOM_API_REQUEST" => mail_room_token(secret_path("incoming")) }

        expect(post("/api/v4/internal/mail_room/incoming_email", headers: headers, body: email_content).status).to eq(401)
      end
    end
  end

  describe "through a real HTTP server on 127.0.0.1" do
    let(:server) { ReceiverHTTPServer.start(app) }

    after { server.stop }

    it "receives the email from a plain HTTP POST with mail_room's headers" do
      uri = URI(server.url("/api/v4/internal/mail_room/incoming_email"))
      request = Net::HTTP::Post.new(uri, "Content-Type" => "text/plain",
                                         "Gitlab-Mailroom-Api-Request" => mail_room_token(secret_path("incoming")))
      request.body = email_content
      response = Net::HTTP.start(uri.host, uri.port, open_timeout: 5, read_timeout: 10) { |http| http.request(request) }

      expect(response.code).to eq("200")
      expect(response["content-type"]).to eq("application/json")
      expect(JSON.parse(response.body)).to eq("success" => true)
      expect(jobs("email_receiver").map(&:args)).to eq([[email_content]])
    end

    it "answers 413 to an oversized body without waiting for all of it" do
      small = described_class.new(authenticator: authenticator, queue: queue, max_body_bytes: 10, logger: nil)
      small_server = ReceiverHTTPServer.start(small)
      uri = URI(small_server.url("/api/v4/internal/mail_room/incoming_email"))
      request = Net::HTTP::Post.new(uri, "Gitlab-Mailroom-Api-Request" => mail_room_token(secret_path("incoming")))
      request.body = "x" * 100
      response = Net::HTTP.start(uri.host, uri.port, open_timeout: 5, read_timeout: 10) { |http| http.request(request) }

      expect(response.code).to eq("413")
    ensure
      small_server&.stop
    end
  end
end
