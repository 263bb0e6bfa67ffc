# frozen_string_literal: true

require "jwt"
require "securerandom"

# Interop both ways with the real ruby-jwt gem, over many random payloads.
RSpec.describe "interop with ruby-jwt" do
  let(:secret) { SecureRandom.random_bytes(32) }
  let(:key) { MailroomJWT::Key.new(secret) }

  # A random JSON value: Unicode, escapes, nesting, big integers, floats.
  def random_value(rng, depth = 0)
    kinds = depth > 3 ? 6 : 8
    case rng.rand(kinds)
    when 0 then rng.rand(-2**70..2**70)
    when 1 then (rng.rand - 0.5) * 10**rng.rand(-5..20)
    when 2 then random_string(rng)
    when 3 then [true, false, nil].sample(random: rng)
    when 4 then rng.rand(-1000..1000)
    when 5 then rng.rand.round(rng.rand(0..6))
    when 6 then Array.new(rng.rand(0..4)) { random_value(rng, depth + 1) }
    else Array.new(rng.rand(0..4)) { [random_string(rng), random_value(rng, depth + 1)] }.to_h
    end
  end

  def random_string(rng)
    pool = [*"a".."z", "\"", "\\", "/", "\n", "\t", "\u0000", "\u001f", "é", "ß", "日本", "😀", "\u2028", "\u{10FFFF}", " "]
    Array.new(rng.rand(0..12)) { pool.sample(random: rng) }.join
  end

  def random_payload(rng)
    payload = { "nonce" => SecureRandom.hex(12), "iat" => Time.now.to_i, "iss" => "gitlab-mailroom" }
    rng.rand(0..6).times { payload[random_string(rng) + rng.rand(1000).to_s] = random_value(rng) }
    payload
  end

  it "decodes here what ruby-jwt makes, for 500 random payloads" do
    rng = Random.new(2024)
    500.times do
      payload = random_payload(rng)
      token = JWT.encode(payload, secret, "HS256")
      expect(key.decode(token)).to eq([payload, { "alg" => "HS256" }])
    end
  end

  it "makes what ruby-jwt decodes, for 500 random payloads" do
    rng = Random.new(4202)
    500.times do
      payload = random_payload(rng)
      token = key.encode(payload)
      expect(JWT.decode(token, secret, true, algorithm: "HS256")).to eq([payload, { "alg" => "HS256" }])
    end
  end

  it "makes byte for byte the token ruby-jwt makes for the same payload" do
    rng = Random.new(99)
    100.times do
      payload = random_payload(rng)
      expect(key.encode(payload)).to eq(JWT.encode(payload, secret, "HS256"))
      expect(MailroomJWT.encode(payload, secret, "HS256")).to eq(JWT.encode(payload, secret, "HS256"))
    end
  end

  it "agrees on header fields" do
    token = JWT.encode({ "a" => 1 }, secret, "HS256", { "kid" => "k1", "typ" => "JWT" })
    expect(key.decode(token).last).to eq(JSON.parse(Base64.urlsafe_decode64(token.split(".").first)))
    ours = key.encode({ "a" => 1 }, "kid" => "k1")
    expect(JWT.decode(ours, secret, true, algorithm: "HS256").last).to eq("alg" => "HS256", "kid" => "k1")
  end

  # A token with claims ruby-jwt would refuse to encode.
  def unchecked_token(payload, secret)
    input = "#{b64url('{"alg":"HS256"}')}.#{b64url(JSON.generate(payload))}"
    "#{input}.#{b64url(OpenSSL::HMAC.digest('SHA256', secret, input))}"
  end

  it "reaches the same verdict, by error name, as ruby-jwt for the same tokens and options" do
    now = Time.now.to_i
    other = SecureRandom.random_bytes(32)
    cases = [
      [JWT.encode({ "iss" => "gitlab-mailroom", "iat" => now }, secret, "HS256"), { iss: "gitlab-mailroom", verify_iss: true }],
      [JWT.encode({ "iss" => "mailroom", "iat" => now }, secret, "HS256"), { iss: "gitlab-mailroom", verify_iss: true }],
      [JWT.encode({ "iss" => "mailroom" }, secret, "HS256"), { iss: "gitlab-mailroom" }],
      [JWT.encode({ "aud" => "a" }, secret, "HS256"), { aud: "b", verify_aud: true }],
      [JWT.encode({ "aud" => %w[a b] }, secret, "HS256"), { aud: "b", verify_aud: true }],
      [JWT.encode({ "exp" => now - 10 }, secret, "HS256"), {}],
      [JWT.encode({ "exp" => now - 10 }, secret, "HS256"), { leeway: 30 }],
      [JWT.encode({ "exp" => now - 10 }, secret, "HS256"), { exp_leeway: 30 }],
      [JWT.encode({ "exp" => now - 10 }, secret, "HS256"), { verify_expiration: false }],
      [JWT.encode({ "nbf" => now + 100 }, secret, "HS256"), {}],
      [JWT.encode({ "nbf" => now + 100 }, secret, "HS256"), { nbf_leeway: 200 }],
      [JWT.encode({ "nbf" => now + 100 }, secret, "HS256"), { verify_not_before: false }],
      [JWT.encode({ "iat" => now + 100 }, secret, "HS256"), { verify_iat: true }],
      [JWT.encode({ "iat" => now + 100 }, secret, "HS256"), {}],
      [unchecked_token({ "iat" => "yesterday" }, secret), { verify_iat: true }],
      [unchecked_token({ "iat" => "yesterday" }, secret), {}],
      [JWT.encode({ "a" => 1 }, secret, "HS256"), { required_claims: ["sub"] }],
      [JWT.encode({ "sub" => 1 }, secret, "HS256"), { required_claims: ["sub"] }],
      [JWT.encode({ "a" => 1 }, other, "HS256"), {}],
      [JWT.encode({ "a" => 1 }, secret, "HS512"), {}],
      [JWT.encode({ "a" => 1 }, nil, "none"), {}],
      [JWT.encode({ "a" => 1 }, secret, "HS256"), { algorithm: "HS512" }],
      [JWT.encode({ "a" => 1 }, secret, "HS256"), { algorithms: %w[HS512 HS256] }],
      ["not.a.token", {}],
      ["a.b", {}]
    ]
    verdict = lambda do |&call|
      call.call
      "ok"
    rescue StandardError => e
      e.class.name.split("::").last
    end
    cases.each do |token, options|
      jwt_options = { algorithm: "HS256" }.merge(options)
      jwt_options.delete(:algorithm) if options.key?(:algorithms)
      theirs = verdict.call { JWT.decode(token, secret, true, jwt_options) }
      ours = verdict.call { MailroomJWT.decode(token, secret, true, jwt_options) }
      expect(ours).to eq(theirs), "#{JSON.generate(options)} #{token[0, 40]}: ruby-jwt #{theirs}, ours #{ours}"
    end
  end

  it "is stricter than ruby-jwt where ruby-jwt coerces a claim: a non-number exp or nbf is InvalidPayload" do
    now = Time.now.to_i
    # ruby-jwt reads "tomorrow".to_i as 0 and calls the token expired.
    token = unchecked_token({ "exp" => "tomorrow" }, secret)
    expect { JWT.decode(token, secret, true, algorithm: "HS256") }.to raise_error(JWT::ExpiredSignature)
    expect { MailroomJWT.decode(token, secret, true, algorithm: "HS256") }.to raise_error(MailroomJWT::InvalidPayload)
    [{ "exp" => [now + 100] }, { "nbf" => { "t" => 1 } }, { "exp" => "#{now + 100}" }].each do |payload|
      expect { MailroomJWT.decode(unchecked_token(payload, secret), secret, true, algorithm: "HS256") }
        .to raise_error(MailroomJWT::InvalidPayload)
    end
  end
end
