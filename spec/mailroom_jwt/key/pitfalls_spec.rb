# frozen_string_literal: true

require "openssl"

# The pitfalls that broke other JWT libraries, one example group each. Tokens
# are forged here with OpenSSL::HMAC, independently of the gem, and carry a
# correct MAC under the right key wherever that matters: so each rejection
# is the pitfall's doing, not a bad signature's.
RSpec.describe MailroomJWT::Key, "against known JWT pitfalls" do
  let(:secret) { "pitfall spec secret, 32 bytes ok" }
  let(:key) { described_class.new(secret) }
  let(:now) { Process.clock_gettime(Process::CLOCK_REALTIME, :second) }
  let(:claims) { %({"iss":"gitlab-mailroom","iat":#{now}}) }

  # A token with exactly these header and payload bytes, signed with mac_key
  # (nil: no signature at all).
  def forge(header_json, payload_json, mac_key: secret, sig: nil)
    signing_input = "#{b64url(header_json)}.#{b64url(payload_json)}"
    sig ||= mac_key ? b64url(OpenSSL::HMAC.digest("SHA256", mac_key, signing_input)) : ""
    "#{signing_input}.#{sig}"
  end

  def expect_rejected(token, error_class, message = nil)
    expect(key.verify(token)).to be(false)
    matcher = message ? raise_error(error_class, message) : raise_error(error_class)
    expect { key.decode(token) }.to matcher
    expect { MailroomJWT.decode(token, secret) }.to matcher
  end

  it "accepts a forged token whose header and claims are right (so the forger works)" do
    token = forge(%({"alg":"HS256"}), claims)
    expect(key.verify(token)).to be(true)
    expect(key.decode(token, issuer: "gitlab-mailroom", iat_after: now - 300))
      .to eq([{ "iss" => "gitlab-mailroom", "iat" => now }, { "alg" => "HS256" }])
  end

  describe "alg none" do
    it "refuses none with no signature, with a MAC, and with a MAC of an empty key" do
      %w[none None NONE nOnE].each do |alg|
        expect_rejected(forge(%({"alg":"#{alg}"}), claims, mac_key: nil), MailroomJWT::IncorrectAlgorithm)
        expect_rejected(forge(%({"alg":"#{alg}"}), claims), MailroomJWT::IncorrectAlgorithm)
        expect_rejected(forge(%({"alg":"#{alg}"}), claims, mac_key: ""), MailroomJWT::IncorrectAlgorithm)
      end
    end

    it "refuses none even when the caller asks for it by name" do
      token = forge(%({"alg":"none"}), claims, mac_key: nil)
      expect { MailroomJWT.decode(token, secret, true, algorithm: "none") }
        .to raise_error(MailroomJWT::IncorrectAlgorithm)
      expect { MailroomJWT.decode(token, secret, true, algorithms: %w[none HS256]) }
        .to raise_error(MailroomJWT::IncorrectAlgorithm)
    end
  end

  describe "alg case and confusion" do
    it "refuses HS256 in any other case or spelling" do
      ["hs256", "Hs256", "HS256 ", " HS256", "HS256\u0000", "HS 256", "HS-256", "HMAC-SHA256"].each do |alg|
        expect_rejected(forge(JSON.generate("alg" => alg), claims), MailroomJWT::IncorrectAlgorithm)
      end
    end

    it "refuses every other algorithm, even with a MAC that HS256 would accept" do
      %w[HS384 HS512 RS256 ES256 PS256 EdDSA].each do |alg|
        expect_rejected(forge(%({"alg":"#{alg}"}), claims), MailroomJWT::IncorrectAlgorithm)
      end
    end

    it "refuses a missing alg and an alg that is not a String" do
      ['{"typ":"JWT"}', '{"alg":null}', '{"alg":["HS256"]}', '{"alg":{"HS256":true}}', '{"alg":256}',
       '{"alg":true}'].each do |header|
        expect_rejected(forge(header, claims), MailroomJWT::IncorrectAlgorithm)
      end
    end

    it "refuses an HS256 token when the caller pins another algorithm" do
      token = forge(%({"alg":"HS256"}), claims)
      expect { MailroomJWT.decode(token, secret, true, algorithm: "HS512") }
        .to raise_error(MailroomJWT::IncorrectAlgorithm)
      expect { MailroomJWT.decode(token, secret, true, algorithms: ["RS256"]) }
        .to raise_error(MailroomJWT::IncorrectAlgorithm)
    end

    it "will not sign with another algorithm" do
      expect { key.encode({ "a" => 1 }, { "alg" => "none" }) }.to raise_error(MailroomJWT::EncodeError)
      expect { MailroomJWT.encode({ "a" => 1 }, secret, "HS512") }.to raise_error(MailroomJWT::EncodeError)
      expect { MailroomJWT.encode({ "a" => 1 }, secret, "none") }.to raise_error(MailroomJWT::EncodeError)
    end
  end

  describe "empty and short keys" do
    it "refuses to build a key shorter than 32 bytes, or empty" do
      ["", "k", "k" * 31, "\0" * 31].each do |bytes|
        expect { described_class.new(bytes) }.to raise_error(ArgumentError, /at least 32 bytes/)
      end
      expect(described_class.new("k" * 32)).to be_a(described_class)
    end

    it "answers a decode with no key or an empty key with a DecodeError, not a guess" do
      token = forge(%({"alg":"HS256"}), claims, mac_key: "")
      expect { MailroomJWT.decode(token, "") }.to raise_error(MailroomJWT::DecodeError, "No verification key available")
      expect { MailroomJWT.decode(token, nil) }.to raise_error(MailroomJWT::DecodeError, "No verification key available")
      expect(key.verify(token)).to be(false)
    end

    it "refuses a short secret given to the ruby-jwt call shapes" do
      expect { MailroomJWT.decode(forge(%({"alg":"HS256"}), claims, mac_key: "short"), "short") }
        .to raise_error(ArgumentError, /at least 32 bytes/)
      expect { MailroomJWT.encode({ "a" => 1 }, "short") }.to raise_error(ArgumentError, /at least 32 bytes/)
    end
  end

  describe "a PEM public key used as an HMAC secret" do
    let(:rsa) { OpenSSL::PKey::RSA.new(2048) }
    let(:public_pem) { rsa.public_key.to_pem }

    it "refuses a PEM key (public or private, with leading whitespace) as key bytes" do
      [public_pem, rsa.to_pem, "\n  #{public_pem}", rsa.public_key.to_pem.sub("PUBLIC KEY", "RSA PUBLIC KEY")].each do |pem|
        expect { described_class.new(pem) }.to raise_error(ArgumentError, /PEM/)
      end
    end

    it "refuses the classic forgery: an RS256 or HS256 token MACed with the server's public key" do
      %w[RS256 HS256].each do |alg|
        token = forge(%({"alg":"#{alg}"}), claims, mac_key: public_pem)
        expect { MailroomJWT.decode(token, public_pem) }.to raise_error(ArgumentError, /PEM/)
        expect { key.decode(token) }.to raise_error(alg == "HS256" ? MailroomJWT::VerificationError : MailroomJWT::IncorrectAlgorithm)
      end
    end

    it "refuses a key object instead of bytes" do
      expect { described_class.new(rsa) }.to raise_error(ArgumentError, /must be a String/)
      expect { MailroomJWT.decode(forge(%({"alg":"HS256"}), claims), rsa.public_key) }
        .to raise_error(ArgumentError, /must be a String/)
    end
  end

  describe "non-canonical base64url" do
    let(:token) { forge(%({"alg":"HS256","typ":"JWT"}), claims) }

    it "refuses padding, the standard alphabet, whitespace and a length of 1 mod 4 in header and payload" do
      header, payload, sig = token.split(".")
      [
        "#{header}=.#{payload}.#{sig}",
        "#{header}.#{payload}==.#{sig}",
        "#{header.tr('-_', '+/')}+.#{payload}.#{sig}",
        "#{header} .#{payload}.#{sig}",
        "#{header}.#{payload}\n.#{sig}",
        "#{header}.#{payload}A.#{sig}" # 1 mod 4 or non-zero trailing bits
      ].each do |bad|
        expect_rejected(bad, MailroomJWT::DecodeError)
      end
    end

    it "refuses a header or payload spelled with non-zero trailing bits" do
      # A header of 3n+2 bytes ends in a digit that carries 2 spare bits.
      header_json = %w[y yy yyy].map { |v| %({"alg":"HS256","x":"#{v}"}) }.find { |h| h.bytesize % 3 == 2 }
      header = b64url(header_json)
      sloppy = header[0..-2] + HardeningHelpers::B64URL[HardeningHelpers::B64URL.index(header[-1]) | 1]
      expect(sloppy).not_to eq(header)
      # A lenient decoder reads the same bytes from both spellings.
      expect(sloppy.tr("-_", "+/").unpack1("m")).to eq(header_json.b)
      payload = b64url(claims)
      mac = b64url(OpenSSL::HMAC.digest("SHA256", secret, "#{sloppy}.#{payload}"))
      expect_rejected("#{sloppy}.#{payload}.#{mac}", MailroomJWT::DecodeError, "Invalid segment encoding")
      mac = b64url(OpenSSL::HMAC.digest("SHA256", secret, "#{header}.#{payload}"))
      expect(key.verify("#{header}.#{payload}.#{mac}")).to be(true)
    end

    it "refuses the same MAC spelled with non-zero trailing bits in the signature" do
      sig = token.split(".").last
      # 32 bytes are 43 digits: the last carries 4 data bits and 2 spare bits.
      last = HardeningHelpers::B64URL.index(sig[-1])
      [1, 2, 3].each do |spare|
        sloppy = token[0..-2] + HardeningHelpers::B64URL[(last & ~3) | spare]
        expect(key.verify(sloppy)).to be(false)
        expect { key.decode(sloppy) }.to raise_error(MailroomJWT::VerificationError)
      end
      expect(key.verify(token)).to be(true)
    end

    it "refuses a padded or standard-alphabet signature" do
      sig = token.split(".").last
      expect_rejected("#{token}=", MailroomJWT::DecodeError)
      std = token.sub(/[^.]+\z/, b64url(Random.bytes(0)) + sig.tr("-_", "+/"))
      expect_rejected(std, MailroomJWT::DecodeError) if std != token
    end
  end

  describe "megabytes of dots" do
    it "refuses quickly inputs far over the token cap, whatever they are made of" do
      [
        "." * 4 * 1024 * 1024,
        "a." * 2 * 1024 * 1024,
        "#{'A' * 3 * 1024 * 1024}.#{'A' * 1024}.#{'A' * 43}",
        "." * (MailroomJWT::Native::TOKEN_MAX + 1)
      ].each do |huge|
        expect_rejected(huge, MailroomJWT::DecodeError, "token is too long")
      end
    end

    it "refuses dots within the cap as a wrong segment count or empty segments" do
      expect_rejected("." * MailroomJWT::Native::TOKEN_MAX, MailroomJWT::DecodeError, "Not enough or too many segments")
      expect_rejected("..", MailroomJWT::DecodeError, "Empty header or payload segment")
      expect_rejected("a.b.c.d", MailroomJWT::DecodeError, "Not enough or too many segments")
      expect_rejected("", MailroomJWT::DecodeError, "Not enough or too many segments")
    end
  end

  describe "duplicate header names" do
    it "refuses a second alg, plainly or escaped, whichever comes first" do
      [
        '{"alg":"HS256","alg":"none"}',
        '{"alg":"none","alg":"HS256"}',
        '{"alg":"HS256","\u0061lg":"HS256"}',
        '{"alg":"HS256","typ":"JWT","typ":"JWT"}'
      ].each do |header|
        expect_rejected(forge(header, claims), MailroomJWT::DecodeError, "duplicate header names")
      end
    end

    it "refuses duplicate claim names in the payload" do
      token = forge('{"alg":"HS256"}', %({"iss":"gitlab-mailroom","iss":"mailroom","iat":#{now}}))
      expect { key.decode(token) }.to raise_error(MailroomJWT::InvalidPayload, "duplicate claim names in payload")
    end
  end

  describe "crit" do
    it "refuses a token with a crit header, whatever it lists" do
      ['{"alg":"HS256","crit":["exp"],"exp":1}', '{"alg":"HS256","crit":[]}', '{"alg":"HS256","crit":"b64","b64":false}']
        .each do |header|
        expect_rejected(forge(header, claims), MailroomJWT::DecodeError, "crit header is not supported")
      end
    end

    it "will not sign with a crit header" do
      expect { key.encode({ "a" => 1 }, { "crit" => ["b64"] }) }.to raise_error(MailroomJWT::EncodeError)
    end
  end

  describe "claim type abuse" do
    def claims_token(json)
      forge('{"alg":"HS256"}', json)
    end

    it "refuses exp and nbf that are not finite numbers" do
      ['"9999999999"', "[9999999999]", "true", "{}", "1e400", "-1e400"].each do |v|
        expect { key.decode(claims_token(%({"exp":#{v}}))) }.to raise_error(MailroomJWT::InvalidPayload)
        expect { key.decode(claims_token(%({"nbf":#{v}}))) }.to raise_error(MailroomJWT::InvalidPayload)
      end
    end

    it "refuses an iat that is not a finite number, and one that is missing when iat_after is asked" do
      ['"1700000000"', "[1]", "null", "false", "1e400"].each do |v|
        token = claims_token(%({"iss":"gitlab-mailroom","iat":#{v}}))
        expect { key.decode(token, iat_after: now - 300) }.to raise_error(MailroomJWT::InvalidIatError)
      end
      expect { key.decode(claims_token('{"iss":"gitlab-mailroom"}'), iat_after: now - 300) }
        .to raise_error(MailroomJWT::InvalidIatError, "JWT iat claim is missing")
    end

    it "refuses an iss or aud of the wrong type even when it contains the right value" do
      [%(["gitlab-mailroom"]), %({"gitlab-mailroom":1}), "1", "null", %("gitlab-mailroom\\u0000")].each do |v|
        expect { key.decode(claims_token(%({"iss":#{v},"iat":#{now}})), issuer: "gitlab-mailroom") }
          .to raise_error(MailroomJWT::InvalidIssuerError)
      end
      [%({"incoming_email":true}), "1", "null", %([["incoming_email"]])].each do |v|
        expect { key.decode(claims_token(%({"aud":#{v}})), audience: "incoming_email") }
          .to raise_error(MailroomJWT::InvalidAudError)
      end
    end

    it "treats an expired exp as expired however it is spelled" do
      ["#{now - 10}", "#{now - 10}.0", "#{now - 10}e0", "-1", "0"].each do |v|
        expect { key.decode(claims_token(%({"exp":#{v}}))) }.to raise_error(MailroomJWT::ExpiredSignature)
      end
    end
  end

  describe "invalid UTF-8" do
    it "refuses invalid UTF-8 inside the JSON of a correctly signed token" do
      ["\xff", "\xc0\xaf", "\xed\xa0\x80", "\xf4\x90\x80\x80", "\xe2\x82", "\x80"].each do |bad|
        payload = %({"iss":"gitlab-mailroom","x":"#{bad}"}).b
        expect { key.decode(forge('{"alg":"HS256"}', payload)) }
          .to raise_error(MailroomJWT::DecodeError, "Invalid UTF-8 in JSON")
        expect { key.decode(forge(%({"alg":"HS256","k":"#{bad}"}).b, claims)) }
          .to raise_error(MailroomJWT::DecodeError, "Invalid UTF-8 in JSON")
      end
    end

    it "refuses lone surrogates written as escapes" do
      ['"\\ud800"', '"\\udc00"', '"\\ud800\\u0041"', '"\\ud800x"'].each do |s|
        expect { key.decode(forge('{"alg":"HS256"}', %({"x":#{s}}))) }
          .to raise_error(MailroomJWT::DecodeError, "Invalid UTF-8 in JSON")
      end
      expect(key.decode(forge('{"alg":"HS256"}', '{"x":"\\ud83d\\ude00"}')).first).to eq("x" => "\u{1F600}")
    end

    it "refuses bytes outside base64url in the token itself" do
      token = forge('{"alg":"HS256"}', claims)
      expect_rejected("#{token}\xff".b, MailroomJWT::DecodeError, "Invalid character in token")
      expect_rejected(token.sub(".", "\u2024"), MailroomJWT::DecodeError, "Invalid character in token")
    end

    it "checks the MAC only (not the payload) in verify, as documented" do
      token = forge('{"alg":"HS256"}', "\xff\xfe not JSON".b)
      expect(key.verify(token)).to be(true)
      expect { key.decode(token) }.to raise_error(MailroomJWT::DecodeError, "Invalid JSON object")
    end
  end

  describe "deep nesting" do
    def nested(depth)
      %({"a":#{'[' * depth}#{']' * depth}})
    end

    it "accepts 32 levels and refuses 33, in the payload and in the header" do
      expect(key.decode(forge('{"alg":"HS256"}', nested(31))).first["a"]).to be_an(Array)
      expect { key.decode(forge('{"alg":"HS256"}', nested(32))) }
        .to raise_error(MailroomJWT::DecodeError, "JSON nested too deeply")
      expect { key.decode(forge(%({"alg":"HS256","n":#{'[' * 40}#{']' * 40}}), claims)) }
        .to raise_error(MailroomJWT::DecodeError, "JSON nested too deeply")
      expect(key.verify(forge(%({"alg":"HS256","n":#{'[' * 40}#{']' * 40}}), claims))).to be(false)
    end

    it "refuses nesting as deep as the token cap allows, without exhausting the stack" do
      depth = 6000 # 8000 base64url characters per segment
      expect { key.decode(forge('{"alg":"HS256"}', %({"a":#{'[' * depth}}))) }
        .to raise_error(MailroomJWT::DecodeError, "JSON nested too deeply")
      expect { key.decode(forge('{"alg":"HS256"}', %({"a":#{'{"a":' * (depth / 5)}1#{'}' * (depth / 5)}}))) }
        .to raise_error(MailroomJWT::DecodeError, "JSON nested too deeply")
    end

    it "will not sign a payload nested deeper than the JSON generator allows" do
      deep = 200.times.reduce(1) { |inner, _| [inner] }
      expect { key.encode({ "a" => deep }) }.to raise_error(MailroomJWT::EncodeError)
    end
  end
end
