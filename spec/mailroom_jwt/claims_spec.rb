# frozen_string_literal: true

RSpec.describe MailroomJWT::Claims do
  let(:at) { 1_700_000_000 }

  def verify(payload, **options)
    described_class.verify!(payload, at: at, **options)
  end

  it "returns the payload when every rule holds" do
    payload = { "iss" => "gitlab-mailroom", "iat" => at, "exp" => at + 1, "nbf" => at, "aud" => "incoming_email" }
    expect(verify(payload, issuer: "gitlab-mailroom", audience: "incoming_email", iat_after: at)).to equal(payload)
  end

  describe "exp" do
    it "fails at and after the expiry, and passes one second before it" do
      expect(verify({ "exp" => at + 1 })).to be_a(Hash)
      expect { verify({ "exp" => at }) }.to raise_error(MailroomJWT::ExpiredSignature)
      expect { verify({ "exp" => at - 1 }) }.to raise_error(MailroomJWT::ExpiredSignature)
    end

    it "is extended by exp_leeway, or leeway" do
      expect(verify({ "exp" => at - 5 }, leeway: 6)).to be_a(Hash)
      expect { verify({ "exp" => at - 5 }, leeway: 5) }.to raise_error(MailroomJWT::ExpiredSignature)
      expect(verify({ "exp" => at - 5 }, exp_leeway: 6)).to be_a(Hash)
    end
  end

  describe "nbf" do
    it "passes at nbf and fails one second before" do
      expect(verify({ "nbf" => at })).to be_a(Hash)
      expect { verify({ "nbf" => at + 1 }) }.to raise_error(MailroomJWT::ImmatureSignature)
      expect(verify({ "nbf" => at + 5 }, nbf_leeway: 5)).to be_a(Hash)
    end
  end

  describe "iat" do
    it "may be up to the leeway in the future" do
      expect(verify({ "iat" => at })).to be_a(Hash)
      expect { verify({ "iat" => at + 1 }) }.to raise_error(MailroomJWT::InvalidIatError)
      expect(verify({ "iat" => at + 3 }, leeway: 3)).to be_a(Hash)
      expect(verify({ "iat" => at + 3 }, iat_leeway: 3)).to be_a(Hash)
      expect(verify({ "iat" => at + 3 }, verify_iat: false)).to be_a(Hash)
    end

    it "must be at or after iat_after, which may be a Time" do
      expect(verify({ "iat" => at - 300 }, iat_after: at - 300)).to be_a(Hash)
      expect(verify({ "iat" => at - 300 }, iat_after: Time.at(at - 300))).to be_a(Hash)
      expect { verify({ "iat" => at - 301 }, iat_after: at - 300) }
        .to raise_error(MailroomJWT::ExpiredSignature, "Token has expired")
      expect { verify({}, iat_after: at - 300) }.to raise_error(MailroomJWT::InvalidIatError, "JWT iat claim is missing")
    end
  end

  it "refuses non-finite and non-numeric time claims with DecodeError subclasses, never Ruby errors" do
    [Float::INFINITY, -Float::INFINITY, Float::NAN, "1", [1], { "a" => 1 }, true].each do |bad|
      expect { verify({ "exp" => bad }) }.to raise_error(MailroomJWT::InvalidPayload)
      expect { verify({ "nbf" => bad }) }.to raise_error(MailroomJWT::InvalidPayload)
      expect { verify({ "iat" => bad }) }.to raise_error(MailroomJWT::InvalidIatError)
    end
  end

  it "matches the issuer exactly, or any of a list" do
    expect(verify({ "iss" => "a" }, issuer: %w[b a])).to be_a(Hash)
    ["A", "a ", nil, ["a"], 1].each do |iss|
      expect { verify({ "iss" => iss }, issuer: "a") }.to raise_error(MailroomJWT::InvalidIssuerError)
    end
  end

  it "matches the audience as a String or within a list" do
    expect(verify({ "aud" => %w[x y] }, audience: "y")).to be_a(Hash)
    expect(verify({ "aud" => "y" }, audience: %w[x y])).to be_a(Hash)
    [nil, "z", %w[z], 1, [1]].each do |aud|
      expect { verify({ "aud" => aud }, audience: "y") }.to raise_error(MailroomJWT::InvalidAudError)
    end
  end

  it "names missing required claims" do
    expect { verify({ "a" => 1 }, required_claims: %w[a b]) }.to raise_error(MailroomJWT::MissingRequiredClaim, /b/)
    expect(verify({ "a" => nil }, required_claims: [:a])).to be_a(Hash)
  end

  it "refuses a negative, non-finite or non-numeric leeway with ArgumentError" do
    [-1, Float::NAN, Float::INFINITY, "5", nil].each do |bad|
      expect { verify({}, leeway: bad) }.to raise_error(ArgumentError)
    end
  end

  it "shows a claim from the token shortly and without control bytes in messages" do
    expect { verify({ "iss" => "x\n\e[31m#{'y' * 100}" }, issuer: "a") }.to raise_error(MailroomJWT::InvalidIssuerError) { |e|
      expect(e.message).not_to match(/[\n\e]/)
      expect(e.message.length).to be < 150
    }
  end
end
