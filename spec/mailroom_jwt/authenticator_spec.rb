# frozen_string_literal: true

require "jwt"

RSpec.describe MailroomJWT::Authenticator do
  let(:now) { 1_800_000_000 }
  let!(:incoming_email_secret) { new_secret_file("incoming") }
  let!(:service_desk_email_secret) { new_secret_file("service_desk") }
  let(:yml_config) { { enabled: true, address: "address@example.com" } }
  let(:configs) do
    {
      incoming_email: yml_config.merge(secret_file: secret_path("incoming")),
      service_desk_email: yml_config.merge(secret_file: secret_path("service_desk"))
    }
  end
  let(:options) { {} }
  let(:authenticator) { described_class.new(MailroomJWT::Mailboxes.new(configs), clock: -> { now }, **options) }
  let(:payload) { { iss: described_class::ISSUER, iat: now - 300 + 1 } }

  def headers_for(token)
    { described_class::REQUEST_HEADER => token }
  end

  it "has GitLab's constants" do
    expect(described_class::REQUEST_HEADER).to eq("Gitlab-Mailroom-Api-Request")
    expect(described_class::ISSUER).to eq("gitlab-mailroom")
    expect(described_class::EXPIRATION).to eq(300)
    expect(described_class::SecretConfigurationError).to be(MailroomJWT::SecretConfigurationError)
    expect(MailroomJWT::SecretConfigurationError.superclass).to be(MailroomJWT::Error)
  end

  describe "#verify_api_request (GitLab's cases)" do
    it "returns the decoded payload of a valid token for each mailbox" do
      token = JWT.encode(payload, incoming_email_secret, "HS256")
      expect(authenticator.verify_api_request(headers_for(token), "incoming_email")[0])
        .to match(a_hash_including("iss" => "gitlab-mailroom", "iat" => be_a(Integer)))

      token = JWT.encode(payload, service_desk_email_secret, "HS256")
      expect(authenticator.verify_api_request(headers_for(token), "service_desk_email")[0])
        .to match(a_hash_including("iss" => "gitlab-mailroom", "iat" => be_a(Integer)))
    end

    it "returns false for a token signed with a wrong secret" do
      token = JWT.encode(payload, "wrong secret", "HS256")

      expect(authenticator.verify_api_request(headers_for(token), "incoming_email")).to eq(false)
    end

    it "returns false for a valid token of another mailbox" do
      token = JWT.encode(payload, incoming_email_secret, "HS256")

      expect(authenticator.verify_api_request(headers_for(token), "service_desk_email")).to eq(false)
    end

    it "returns false for a wrong issuer" do
      token = JWT.encode({ iss: "invalid_issuer", iat: now }, incoming_email_secret, "HS256")

      expect(authenticator.verify_api_request(headers_for(token), "incoming_email")).to eq(false)
    end

    it "returns false for a token older than 5 minutes, and accepts one exactly 5 minutes old" do
      stale = JWT.encode(payload.merge(iat: now - 300 - 1), incoming_email_secret, "HS256")
      boundary = JWT.encode(payload.merge(iat: now - 300), incoming_email_secret, "HS256")

      expect(authenticator.verify_api_request(headers_for(stale), "incoming_email")).to eq(false)
      expect(authenticator.verify_api_request(headers_for(boundary), "incoming_email")[0]).to include("iat" => now - 300)
    end

    it "returns false for a token without iat, or with an iat in the future" do
      missing = JWT.encode({ iss: described_class::ISSUER }, incoming_email_secret, "HS256")
      future = JWT.encode(payload.merge(iat: now + 1), incoming_email_secret, "HS256")

      expect(authenticator.verify_api_request(headers_for(missing), "incoming_email")).to eq(false)
      expect(authenticator.verify_api_request(headers_for(future), "incoming_email")).to eq(false)
    end

    it "returns false when the token is in a wrong header field" do
      token = JWT.encode(payload, incoming_email_secret, "HS256")

      expect(authenticator.verify_api_request({ "a-wrong-header" => token }, "incoming_email")).to eq(false)
    end

    it "returns false for a disabled mailbox type" do
      configs.delete(:incoming_email)
      token = JWT.encode(payload, incoming_email_secret, "HS256")

      expect(authenticator.verify_api_request(headers_for(token), "incoming_email")).to eq(false)
    end

    it "returns false for a non-existing mailbox type" do
      expect(authenticator.verify_api_request(headers_for("something"), "invalid_mailbox_type")).to eq(false)
    end

    it "raises SecretConfigurationError (not false) when the secret file breaks at run time" do
      token = JWT.encode(payload, incoming_email_secret, "HS256")
      authenticator
      File.delete(secret_path("incoming"))

      expect { authenticator.verify_api_request(headers_for(token), "incoming_email") }.to raise_error(
        MailroomJWT::SecretConfigurationError, /Fail to read incoming_email's secret: .*cannot open \(No such file or directory\)/
      )
    end
  end

  describe "#verify!" do
    it "names the reason of each failure with its error class" do
      good = JWT.encode(payload, incoming_email_secret, "HS256")
      expect { authenticator.verify!({}, "incoming_email") }.to raise_error(MailroomJWT::MissingToken)
      expect { authenticator.verify!(headers_for(good), "nope") }.to raise_error(MailroomJWT::UnknownMailbox)
      expect { authenticator.verify!(headers_for("a.b"), "incoming_email") }.to raise_error(MailroomJWT::DecodeError)
      expect { authenticator.verify!(headers_for(good), "service_desk_email") }.to raise_error(MailroomJWT::VerificationError)
      stale = JWT.encode(payload.merge(iat: now - 301), incoming_email_secret, "HS256")
      expect { authenticator.verify!(headers_for(stale), "incoming_email") }
        .to raise_error(MailroomJWT::ExpiredSignature, "Token has expired")
    end
  end

  describe "headers" do
    let(:token) { JWT.encode(payload, incoming_email_secret, "HS256") }

    it "reads a Rack env" do
      env = { "HTTP_GITLAB_MAILROOM_API_REQUEST" => token, "REQUEST_METHOD" => "POST" }

      expect(authenticator.verify_api_request(env, "incoming_email")).to be_an(Array)
    end

    it "reads a Hash of header names in any case" do
      %w[gitlab-mailroom-api-request GITLAB-MAILROOM-API-REQUEST Gitlab-Mailroom-Api-Request].each do |name|
        expect(authenticator.verify_api_request({ "Content-Type" => "text/plain", name => token }, :incoming_email))
          .to be_an(Array)
      end
      expect(authenticator.verify_api_request({ "gitlab-mailroom-api-request": token }, :incoming_email)).to be_an(Array)
    end

    it "returns false for an empty or non-String header value" do
      expect(authenticator.verify_api_request(headers_for(""), "incoming_email")).to eq(false)
      expect(authenticator.verify_api_request(headers_for([token]), "incoming_email")).to eq(false)
    end
  end

  it "accepts tokens made by the real mail_room (MailRoom::JWT, ruby-jwt underneath)" do
    live = described_class.new(MailroomJWT::Mailboxes.new(configs))
    token = mail_room_token(secret_path("incoming"))

    payload, header = live.verify_api_request(headers_for(token), "incoming_email")
    expect(header).to eq({ "alg" => "HS256" })
    expect(payload.keys).to eq(%w[nonce iat iss])
    expect(payload["nonce"]).to match(/\A\h{24}\z/)
  end

  describe "several secrets per mailbox (rotation)" do
    let!(:new_secret) { new_secret_file("incoming.new") }

    before { configs[:incoming_email][:secret_file] = [secret_path("incoming.new"), secret_path("incoming")] }

    it "accepts a token made with any of them, and no other" do
      old_token = JWT.encode(payload, incoming_email_secret, "HS256")
      new_token = JWT.encode(payload, new_secret, "HS256")

      expect(authenticator.verify_api_request(headers_for(old_token), "incoming_email")).to be_an(Array)
      expect(authenticator.verify_api_request(headers_for(new_token), "incoming_email")).to be_an(Array)
      expect { authenticator.verify!(headers_for(JWT.encode(payload, service_desk_email_secret, "HS256")), "incoming_email") }
        .to raise_error(MailroomJWT::VerificationError)
    end

    it "stops accepting a retired secret once its file is replaced" do
      old_token = JWT.encode(payload, incoming_email_secret, "HS256")
      authenticator
      MailroomJWT::Key.new(new_secret).write(secret_path("incoming"))

      expect { authenticator.verify!(headers_for(old_token), "incoming_email") }.to raise_error(MailroomJWT::VerificationError)
    end
  end

  describe "replay protection" do
    let(:cache) { MailroomJWT::ReplayCache::Memory.new }
    let(:options) { { replay_cache: cache } }

    it "refuses the same token a second time (ReplayedToken)" do
      token = mail_room_token(secret_path("incoming"))
      live = described_class.new(MailroomJWT::Mailboxes.new(configs), replay_cache: cache)

      expect(live.verify_api_request(headers_for(token), "incoming_email")).to be_an(Array)
      expect { live.verify!(headers_for(token), "incoming_email") }.to raise_error(MailroomJWT::ReplayedToken)
      expect(live.verify_api_request(headers_for(token), "incoming_email")).to eq(false)
    end

    it "still accepts each fresh token of mail_room" do
      live = described_class.new(MailroomJWT::Mailboxes.new(configs), replay_cache: cache)

      5.times do
        expect(live.verify_api_request(headers_for(mail_room_token(secret_path("incoming"))), "incoming_email")).to be_an(Array)
      end
    end

    it "refuses a token without a nonce (MissingRequiredClaim), and a malformed nonce (InvalidPayload)" do
      no_nonce = JWT.encode(payload, incoming_email_secret, "HS256")
      bad_nonce = JWT.encode(payload.merge(nonce: "x"), incoming_email_secret, "HS256")

      expect { authenticator.verify!(headers_for(no_nonce), "incoming_email") }
        .to raise_error(MailroomJWT::MissingRequiredClaim, /nonce/)
      expect { authenticator.verify!(headers_for(bad_nonce), "incoming_email") }.to raise_error(MailroomJWT::InvalidPayload)
    end

    it "remembers a nonce for as long as the token is valid, plus the leeway" do
      token = JWT.encode(payload.merge(nonce: "ab" * 12, iat: now - 100), incoming_email_secret, "HS256")
      allow(cache).to receive(:claim).and_call_original
      authenticator.verify!(headers_for(token), "incoming_email")

      expect(cache).to have_received(:claim).with("ab" * 12, ttl: 201)
    end

    it "does not consume the nonce until the header, then the body, have passed" do
      token = JWT.encode(payload.merge(nonce: "cd" * 12, body_sha256: body_sha256("mail")), incoming_email_secret, "HS256")

      expect { authenticator.verify!(headers_for(token), "incoming_email", body: "other") }
        .to raise_error(MailroomJWT::BodyMismatch)
      expect(authenticator.verify!(headers_for(token), "incoming_email", body: "mail")[0]).to include("nonce" => "cd" * 12)
    end

    it "gives a nonce back with #release (the email could not be queued)" do
      token = JWT.encode(payload.merge(nonce: "ef" * 12), incoming_email_secret, "HS256")
      verified, = authenticator.verify!(headers_for(token), "incoming_email")
      authenticator.release(verified)

      expect(authenticator.verify_api_request(headers_for(token), "incoming_email")).to be_an(Array)
    end
  end

  describe "request binding" do
    let(:body) { "Subject: hi\r\n\r\nhello\r\n" }

    context "with require_audience: true" do
      let(:options) { { require_audience: true } }

      it "accepts aud = the mailbox type" do
        token = JWT.encode(payload.merge(aud: "incoming_email"), incoming_email_secret, "HS256")

        expect(authenticator.verify_api_request(headers_for(token), "incoming_email")).to be_an(Array)
      end

      it "refuses a token for another mailbox (InvalidAudError), even one signed with this mailbox's secret" do
        # A deployment that gives both mailboxes the same secret.
        token = JWT.encode(payload.merge(aud: "service_desk_email"), incoming_email_secret, "HS256")

        expect { authenticator.verify!(headers_for(token), "incoming_email") }.to raise_error(MailroomJWT::InvalidAudError)
      end

      it "refuses a token without aud (MissingRequiredClaim)" do
        token = JWT.encode(payload, incoming_email_secret, "HS256")

        expect { authenticator.verify!(headers_for(token), "incoming_email") }
          .to raise_error(MailroomJWT::MissingRequiredClaim, /aud/)
      end
    end

    context "with require_body_digest: true" do
      let(:options) { { require_body_digest: true } }

      it "accepts the body the token was made for" do
        token = JWT.encode(payload.merge(body_sha256: body_sha256(body)), incoming_email_secret, "HS256")

        expect(authenticator.verify_api_request(headers_for(token), "incoming_email", body: body)).to be_an(Array)
      end

      it "refuses a captured token carrying another email (BodyMismatch)" do
        token = JWT.encode(payload.merge(body_sha256: body_sha256(body)), incoming_email_secret, "HS256")

        expect { authenticator.verify!(headers_for(token), "incoming_email", body: "#{body}evil") }
          .to raise_error(MailroomJWT::BodyMismatch)
        expect { authenticator.verify!(headers_for(token), "incoming_email", body: body.sub("\r\n", "\n")) }
          .to raise_error(MailroomJWT::BodyMismatch)
      end

      it "refuses a token without the claim (MissingRequiredClaim), or with a non-String one (BodyMismatch)" do
        without = JWT.encode(payload, incoming_email_secret, "HS256")
        number = JWT.encode(payload.merge(body_sha256: 1), incoming_email_secret, "HS256")

        expect { authenticator.verify!(headers_for(without), "incoming_email", body: body) }
          .to raise_error(MailroomJWT::MissingRequiredClaim, /body_sha256/)
        expect { authenticator.verify!(headers_for(number), "incoming_email", body: body) }
          .to raise_error(MailroomJWT::BodyMismatch)
      end

      it "refuses when no body is given to check" do
        token = JWT.encode(payload.merge(body_sha256: body_sha256(body)), incoming_email_secret, "HS256")

        expect { authenticator.verify!(headers_for(token), "incoming_email") }.to raise_error(MailroomJWT::BodyMismatch)
      end
    end

    context "by default (compatible)" do
      it "accepts tokens without aud or body_sha256, as today's mail_room makes them" do
        token = mail_room_token(secret_path("incoming"))
        live = described_class.new(MailroomJWT::Mailboxes.new(configs))

        expect(live.verify_api_request(headers_for(token), "incoming_email", body: body)).to be_an(Array)
      end

      it "still checks an aud or body_sha256 claim that is present" do
        wrong_aud = JWT.encode(payload.merge(aud: "service_desk_email"), incoming_email_secret, "HS256")
        wrong_body = JWT.encode(payload.merge(body_sha256: body_sha256("x")), incoming_email_secret, "HS256")

        expect { authenticator.verify!(headers_for(wrong_aud), "incoming_email") }.to raise_error(MailroomJWT::InvalidAudError)
        expect { authenticator.verify!(headers_for(wrong_body), "incoming_email", body: body) }
          .to raise_error(MailroomJWT::BodyMismatch)
      end
    end

    it "computes the digest as unpadded base64url SHA-256 of the exact bytes" do
      expect(described_class.body_digest("abc")).to eq("ungWv48Bz-pBQUDeXa4iI7ADYaOWF3qctBD_YfIAFa0")
      expect(described_class.body_digest("\xff".b)).to eq(body_sha256("\xff".b))
    end
  end

  describe "clock skew" do
    let(:ahead) { JWT.encode(payload.merge(iat: now + 30), incoming_email_secret, "HS256") }
    let(:old) { JWT.encode(payload.merge(iat: now - 300 - 30), incoming_email_secret, "HS256") }
    let(:expired) { JWT.encode(payload.merge(iat: now - 10, exp: now - 20), incoming_email_secret, "HS256") }
    let(:immature) { JWT.encode(payload.merge(iat: now, nbf: now + 20), incoming_email_secret, "HS256") }

    it "by default, as GitLab, refuses a sender clock one second ahead" do
      one_ahead = JWT.encode(payload.merge(iat: now + 1), incoming_email_secret, "HS256")

      expect { authenticator.verify!(headers_for(one_ahead), "incoming_email") }.to raise_error(MailroomJWT::InvalidIatError)
      expect { authenticator.verify!(headers_for(expired), "incoming_email") }.to raise_error(MailroomJWT::ExpiredSignature)
      expect { authenticator.verify!(headers_for(immature), "incoming_email") }.to raise_error(MailroomJWT::ImmatureSignature)
    end

    context "with leeway: 30" do
      let(:options) { { leeway: 30 } }

      it "accepts iat, exp and nbf off by up to 30 seconds either way" do
        [ahead, old, expired, immature].each do |token|
          expect(authenticator.verify_api_request(headers_for(token), "incoming_email")).to be_an(Array)
        end
      end

      it "refuses what is off by more" do
        too_far = JWT.encode(payload.merge(iat: now + 31), incoming_email_secret, "HS256")
        too_old = JWT.encode(payload.merge(iat: now - 300 - 31), incoming_email_secret, "HS256")

        expect { authenticator.verify!(headers_for(too_far), "incoming_email") }.to raise_error(MailroomJWT::InvalidIatError)
        expect { authenticator.verify!(headers_for(too_old), "incoming_email") }.to raise_error(MailroomJWT::ExpiredSignature)
      end
    end

    it "refuses a negative leeway" do
      expect { described_class.new(MailroomJWT::Mailboxes.new(configs), leeway: -1) }.to raise_error(ArgumentError)
    end
  end

  it "takes a Hash of mailboxes too, and does not show secrets in inspect" do
    auth = described_class.new(configs)

    expect(auth.mailboxes.enabled_types).to eq(%w[incoming_email service_desk_email])
    expect(auth.inspect).not_to include([incoming_email_secret].pack("m0"))
  end
end
