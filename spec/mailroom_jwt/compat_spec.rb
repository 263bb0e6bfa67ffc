# frozen_string_literal: true

require "securerandom"

RSpec.describe "MailroomJWT.encode and MailroomJWT.decode (ruby-jwt's call shapes)" do
  let(:secret) { SecureRandom.random_bytes(32) }
  let(:now) { Time.now.to_i }

  it "round-trips with a String secret or a Key" do
    key = MailroomJWT::Key.new(secret)
    token = MailroomJWT.encode({ "a" => 1 }, secret, "HS256")
    expect(MailroomJWT.decode(token, secret, true, algorithm: "HS256")).to eq([{ "a" => 1 }, { "alg" => "HS256" }])
    expect(MailroomJWT.decode(token, key, true, "algorithm" => "HS256").first).to eq("a" => 1)
    expect(MailroomJWT.encode({ "a" => 1 }, key)).to eq(token)
  end

  it "encodes only HS256" do
    %w[none HS512 RS256 hs256].each do |alg|
      expect { MailroomJWT.encode({ "a" => 1 }, secret, alg) }.to raise_error(MailroomJWT::EncodeError)
    end
  end

  it "passes header fields" do
    token = MailroomJWT.encode({ "a" => 1 }, secret, "HS256", { "kid" => "x" })
    expect(MailroomJWT.decode(token, secret).last).to eq("alg" => "HS256", "kid" => "x")
  end

  it "refuses a missing secret with DecodeError and a short one with ArgumentError" do
    token = MailroomJWT.encode({ "a" => 1 }, secret)
    expect { MailroomJWT.decode(token, nil) }.to raise_error(MailroomJWT::DecodeError, "No verification key available")
    expect { MailroomJWT.decode(token, "") }.to raise_error(MailroomJWT::DecodeError)
    expect { MailroomJWT.decode(token, "short") }.to raise_error(ArgumentError)
    expect { MailroomJWT.encode({ "a" => 1 }, nil) }.to raise_error(MailroomJWT::EncodeError)
  end

  it "refuses when the allowed algorithms leave out HS256" do
    token = MailroomJWT.encode({ "a" => 1 }, secret)
    expect { MailroomJWT.decode(token, secret, true, algorithm: "HS512") }.to raise_error(MailroomJWT::IncorrectAlgorithm)
    expect { MailroomJWT.decode(token, secret, true, algorithms: ["RS256"]) }.to raise_error(MailroomJWT::IncorrectAlgorithm)
    expect(MailroomJWT.decode(token, secret, true, algorithms: %w[HS512 HS256]).first).to eq("a" => 1)
  end

  it "checks the issuer only with verify_iss, as ruby-jwt does" do
    token = MailroomJWT.encode({ "iss" => "mailroom" }, secret)
    expect(MailroomJWT.decode(token, secret, true, iss: "gitlab-mailroom").first).to eq("iss" => "mailroom")
    expect { MailroomJWT.decode(token, secret, true, iss: "gitlab-mailroom", verify_iss: true) }
      .to raise_error(MailroomJWT::InvalidIssuerError)
    expect(MailroomJWT.decode(token, secret, true, iss: %w[gitlab-mailroom mailroom], verify_iss: true).first)
      .to eq("iss" => "mailroom")
  end

  it "checks the audience only with verify_aud" do
    token = MailroomJWT.encode({ "aud" => "incoming_email" }, secret)
    expect(MailroomJWT.decode(token, secret, true, aud: "x").first).to eq("aud" => "incoming_email")
    expect { MailroomJWT.decode(token, secret, true, aud: "x", verify_aud: true) }.to raise_error(MailroomJWT::InvalidAudError)
  end

  it "checks iat only with verify_iat" do
    token = MailroomJWT.encode({ "iat" => now + 600 }, secret)
    expect(MailroomJWT.decode(token, secret).first).to eq("iat" => now + 600)
    expect { MailroomJWT.decode(token, secret, true, verify_iat: true) }.to raise_error(MailroomJWT::InvalidIatError)
  end

  it "takes leeway, exp_leeway and nbf_leeway" do
    expired = MailroomJWT.encode({ "exp" => now - 10 }, secret)
    early = MailroomJWT.encode({ "nbf" => now + 10 }, secret)
    expect { MailroomJWT.decode(expired, secret) }.to raise_error(MailroomJWT::ExpiredSignature)
    expect { MailroomJWT.decode(early, secret) }.to raise_error(MailroomJWT::ImmatureSignature)
    expect(MailroomJWT.decode(expired, secret, true, leeway: 60).first).to eq("exp" => now - 10)
    expect(MailroomJWT.decode(expired, secret, true, exp_leeway: 60).first).to eq("exp" => now - 10)
    expect { MailroomJWT.decode(expired, secret, true, nbf_leeway: 60) }.to raise_error(MailroomJWT::ExpiredSignature)
    expect(MailroomJWT.decode(early, secret, true, nbf_leeway: 60).first).to eq("nbf" => now + 10)
    expect { MailroomJWT.decode(expired, secret, true, leeway: -1) }.to raise_error(ArgumentError)
  end

  it "takes verify_expiration and verify_not_before" do
    expired = MailroomJWT.encode({ "exp" => now - 10 }, secret)
    early = MailroomJWT.encode({ "nbf" => now + 10 }, secret)
    expect(MailroomJWT.decode(expired, secret, true, verify_expiration: false).first).to eq("exp" => now - 10)
    expect(MailroomJWT.decode(early, secret, true, verify_not_before: false).first).to eq("nbf" => now + 10)
  end

  it "checks required_claims" do
    token = MailroomJWT.encode({ "a" => 1 }, secret)
    expect { MailroomJWT.decode(token, secret, true, required_claims: %w[a sub]) }
      .to raise_error(MailroomJWT::MissingRequiredClaim, "Missing required claim sub")
    expect(MailroomJWT.decode(token, secret, true, required_claims: ["a"]).first).to eq("a" => 1)
  end

  it "with verify = false, skips the MAC and the claims but not the structure" do
    token = MailroomJWT.encode({ "exp" => now - 10 }, SecureRandom.random_bytes(32))
    expect(MailroomJWT.decode(token, nil, false)).to eq([{ "exp" => now - 10 }, { "alg" => "HS256" }])
    expect { MailroomJWT.decode("a.b", nil, false) }.to raise_error(MailroomJWT::DecodeError)
    none = "#{b64url('{"alg":"none"}')}.#{b64url('{"a":1}')}."
    expect { MailroomJWT.decode(none, nil, false) }.to raise_error(MailroomJWT::IncorrectAlgorithm)
  end

  it "raises only DecodeError and its subclasses for any token" do
    [nil, 1, "", "a.b.c", "." * 100, "\xFF".b, ["x"]].each do |bad|
      expect { MailroomJWT.decode(bad, secret) }.to raise_error(MailroomJWT::DecodeError)
    end
  end
end
