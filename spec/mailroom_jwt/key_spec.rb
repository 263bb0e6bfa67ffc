# frozen_string_literal: true

require "base64"
require "securerandom"
require "stringio"
require "tmpdir"

RSpec.describe MailroomJWT::Key do
  let(:secret) { SecureRandom.random_bytes(32) }
  let(:key) { described_class.new(secret) }
  let(:now) { Time.now.to_i }
  let(:claims) { { "nonce" => SecureRandom.hex(12), "iat" => now, "iss" => "gitlab-mailroom" } }

  # Builds a token from raw header and payload bytes, signed with secret.
  def raw_token(header_json, payload_json, with: secret)
    input = "#{b64url(header_json)}.#{b64url(payload_json)}"
    "#{input}.#{b64url(OpenSSL::HMAC.digest('SHA256', with, input))}"
  end

  describe ".new" do
    it "accepts a String of 32 bytes or more" do
      expect(described_class.new("k" * 32)).to be_a(described_class)
      expect(described_class.new(SecureRandom.random_bytes(100))).to be_frozen
    end

    it "refuses nil, non-Strings, empty and short keys with ArgumentError" do
      [nil, 42, :symbol, ["k" * 32], "", "k" * 31, "\0" * 16].each do |bad|
        expect { described_class.new(bad) }.to raise_error(ArgumentError)
      end
    end

    it "counts bytes, not characters" do
      expect { described_class.new("é" * 16) }.not_to raise_error # 32 bytes
      expect { described_class.new("é" * 15) }.to raise_error(ArgumentError, /at least 32 bytes, got 30/)
    end

    it "refuses a PEM key used as an HMAC secret" do
      pem = OpenSSL::PKey::RSA.new(2048).public_key.to_pem
      expect { described_class.new(pem) }.to raise_error(ArgumentError, /PEM/)
    end

    it "refuses keys longer than the cap" do
      max = MailroomJWT::Native::MAX_KEY_LENGTH
      expect(described_class.new("k" * max)).to be_a(described_class)
      expect { described_class.new("k" * (max + 1)) }.to raise_error(ArgumentError, /longer than #{max}/)
    end

    it "does not keep a reference to the caller's String" do
      bytes = +"a" * 32
      key = described_class.new(bytes)
      token = key.encode("x" => 1)
      bytes.replace("b" * 32)
      expect(key.verify(token)).to be(true)
    end
  end

  describe ".generate" do
    it "makes distinct frozen 32-byte keys" do
      a = described_class.generate
      b = described_class.generate
      expect(a).to be_frozen
      expect(a).not_to eq(b)
      Dir.mktmpdir do |dir|
        a.write(File.join(dir, "s"))
        expect(Base64.strict_decode64(File.read(File.join(dir, "s"))).bytesize).to eq(32)
      end
    end
  end

  describe "identity and printing" do
    it "is frozen and shareable between threads" do
      expect(key).to be_frozen
      tokens = Array.new(4) { |i| Thread.new { key.encode("i" => i) } }.map(&:value)
      expect(tokens.map { |t| key.decode(t).first["i"] }).to eq([0, 1, 2, 3])
    end

    it "never shows its bytes in inspect, to_s or error messages" do
      secret = "S3cretBytesThatMustNeverLeak!!!!"
      key = described_class.new(secret)
      b64 = Base64.strict_encode64(secret)
      texts = [key.inspect, key.to_s, "#{key}", key.fingerprint]
      begin
        key.decode("x.y.z")
      rescue MailroomJWT::DecodeError => e
        texts << e.message << e.full_message
      end
      texts.each do |text|
        expect(text).not_to include(secret)
        expect(text).not_to include(b64)
        expect(text).not_to include(secret.unpack1("H*"))
      end
      expect(key.inspect).to match(/\A#<MailroomJWT::Key fingerprint=\h{16}>\z/)
    end

    it "compares by key, in constant time, and hashes alike" do
      same = described_class.new(secret.dup)
      other = described_class.new(SecureRandom.random_bytes(32))
      expect(key).to eq(same)
      expect(key).to eql(same)
      expect(key.hash).to eq(same.hash)
      expect(key).not_to eq(other)
      expect(key).not_to eq(secret)
      expect({ key => 1 }[same]).to eq(1)
    end

    it "treats a long key and its SHA-256 digest alike, as HMAC does" do
      long = SecureRandom.random_bytes(100)
      expect(described_class.new(long)).to eq(described_class.new(OpenSSL::Digest::SHA256.digest(long)))
    end

    it "returns itself from dup and clone, and cannot be marshalled" do
      expect(key.dup).to equal(key)
      expect(key.clone).to equal(key)
      expect { key.clone(freeze: false) }.to raise_error(ArgumentError)
      expect { Marshal.dump(key) }.to raise_error(TypeError)
    end
  end

  describe "#encode" do
    it "makes a compact JWS with the header {\"alg\":\"HS256\"} exactly" do
      token = key.encode(claims)
      header, payload, signature = token.split(".")
      expect(Base64.urlsafe_decode64(header)).to eq('{"alg":"HS256"}')
      expect(JSON.parse(Base64.urlsafe_decode64(payload))).to eq(claims)
      expected = OpenSSL::HMAC.digest("SHA256", secret, "#{header}.#{payload}")
      expect(Base64.urlsafe_decode64(signature)).to eq(expected)
      expect(token).not_to include("=")
    end

    it "accepts Symbol keys and writes them as Strings" do
      token = key.encode(nonce: "n", iat: now, iss: "mailroom")
      expect(key.decode(token).first).to eq("nonce" => "n", "iat" => now, "iss" => "mailroom")
    end

    it "adds header fields after alg" do
      token = key.encode(claims, typ: "JWT", "kid" => "k1")
      expect(Base64.urlsafe_decode64(token.split(".").first)).to eq('{"alg":"HS256","typ":"JWT","kid":"k1"}')
      expect(key.decode(token).last).to eq("alg" => "HS256", "typ" => "JWT", "kid" => "k1")
    end

    it "refuses what it cannot encode faithfully with EncodeError" do
      [
        [nil, {}], ["a string", {}], [[1, 2], {}],
        [{ 1 => "integer name" }, {}],
        [{ "iss" => "a", iss: "b" }, {}],
        [{ "exp" => "tomorrow" }, {}], [{ "iat" => Float::NAN }, {}], [{ "nbf" => Float::INFINITY }, {}],
        [{ "x" => Float::NAN }, {}],
        [{ "x" => "\xFF\xFE".b.force_encoding("UTF-8") }, {}],
        [claims, { "alg" => "none" }], [claims, { alg: "HS512" }], [claims, { "crit" => ["exp"] }],
        [claims, "typ"], [claims, { 1 => "x" }], [claims, { "typ" => "a", typ: "b" }]
      ].each do |payload, header|
        expect { key.encode(payload, header) }.to raise_error(MailroomJWT::EncodeError), "#{payload.inspect} #{header.inspect}"
      end
    end

    it "accepts an explicit alg of HS256" do
      expect(key.decode(key.encode(claims, "alg" => "HS256")).last).to eq("alg" => "HS256")
    end

    it "refuses a payload that would make a token over the size cap" do
      big = { "x" => "a" * MailroomJWT::Native::TOKEN_MAX }
      expect { key.encode(big) }.to raise_error(MailroomJWT::EncodeError, /longer than/)
    end
  end

  describe "#decode" do
    it "returns [payload, header] for a good token" do
      expect(key.decode(key.encode(claims))).to eq([claims, { "alg" => "HS256" }])
    end

    it "checks the issuer when given" do
      token = key.encode(claims)
      expect(key.decode(token, issuer: "gitlab-mailroom").first).to eq(claims)
      expect { key.decode(token, issuer: "mailroom") }.to raise_error(MailroomJWT::InvalidIssuerError, /Expected mailroom/)
      expect { key.decode(key.encode(claims.except("iss")), issuer: "mailroom") }
        .to raise_error(MailroomJWT::InvalidIssuerError, /received <none>/)
    end

    it "checks the audience when given" do
      token = key.encode(claims.merge("aud" => %w[incoming_email other]))
      expect(key.decode(token, audience: "incoming_email").first["aud"]).to eq(%w[incoming_email other])
      expect { key.decode(token, audience: "service_desk_email") }.to raise_error(MailroomJWT::InvalidAudError)
      expect { key.decode(key.encode(claims), audience: "incoming_email") }.to raise_error(MailroomJWT::InvalidAudError)
    end

    describe "iat_after" do
      it "passes at the boundary and fails one second older with 'Token has expired'" do
        token = key.encode(claims.merge("iat" => now - 300))
        expect(key.decode(token, iat_after: now - 300).first["iat"]).to eq(now - 300)
        expect(key.decode(token, iat_after: Time.at(now - 300)).first["iat"]).to eq(now - 300)
        expect { key.decode(token, iat_after: now - 299) }
          .to raise_error(MailroomJWT::ExpiredSignature, "Token has expired")
      end

      it "requires iat, with 'JWT iat claim is missing'" do
        token = key.encode(claims.except("iat"))
        expect { key.decode(token, iat_after: now - 300) }
          .to raise_error(MailroomJWT::InvalidIatError, "JWT iat claim is missing")
        expect(key.decode(token).first).not_to have_key("iat")
      end
    end

    it "refuses an iat in the future beyond the leeway" do
      token = key.encode(claims.merge("iat" => now + 30))
      expect { key.decode(token) }.to raise_error(MailroomJWT::InvalidIatError)
      expect(key.decode(token, leeway: 60).first["iat"]).to eq(now + 30)
    end

    it "checks exp with leeway and verify_expiration" do
      expired = key.encode(claims.merge("exp" => now - 10))
      expect { key.decode(expired) }.to raise_error(MailroomJWT::ExpiredSignature, "Signature has expired")
      expect(key.decode(expired, leeway: 20).first["exp"]).to eq(now - 10)
      expect(key.decode(expired, verify_expiration: false).first["exp"]).to eq(now - 10)
      expect { key.decode(key.encode(claims.merge("exp" => now))) }.to raise_error(MailroomJWT::ExpiredSignature)
      expect(key.decode(key.encode(claims.merge("exp" => now + 60))).first["exp"]).to eq(now + 60)
    end

    it "checks nbf with leeway and verify_not_before" do
      early = key.encode(claims.merge("nbf" => now + 30))
      expect { key.decode(early) }.to raise_error(MailroomJWT::ImmatureSignature)
      expect(key.decode(early, leeway: 60).first["nbf"]).to eq(now + 30)
      expect(key.decode(early, verify_not_before: false).first["nbf"]).to eq(now + 30)
    end

    it "refuses claim types that are not finite numbers with a DecodeError subclass" do
      { "exp" => MailroomJWT::InvalidPayload, "nbf" => MailroomJWT::InvalidPayload,
        "iat" => MailroomJWT::InvalidIatError }.each do |claim, error|
        ['"123"', "true", "[1]", '{"a":1}', "1e400", "-1e400", '"NaN"'].each do |value|
          token = raw_token('{"alg":"HS256"}', %({"#{claim}":#{value}}))
          expect { key.decode(token, verify_expiration: false, verify_not_before: false) }
            .to raise_error(error), "#{claim}: #{value}"
        end
      end
    end

    it "treats a null time claim as absent, so that iat_after still needs a real iat" do
      token = raw_token('{"alg":"HS256"}', '{"exp":null,"nbf":null,"iat":null}')
      expect(key.decode(token).first).to eq("exp" => nil, "nbf" => nil, "iat" => nil)
      expect { key.decode(token, iat_after: now - 300) }
        .to raise_error(MailroomJWT::InvalidIatError, "JWT iat claim is missing")
    end

    it "accepts float and big integer times" do
      token = raw_token('{"alg":"HS256"}', %({"exp":#{now + 100}.5,"nbf":#{now - 1}.25,"big":123456789012345678901234567890}))
      payload, = key.decode(token)
      expect(payload["exp"]).to eq(now + 100.5)
      expect(payload["big"]).to eq(123_456_789_012_345_678_901_234_567_890)
    end

    describe "what it refuses, each with its class" do
      let(:payload_json) { JSON.generate(claims) }

      it "any alg but exactly HS256: IncorrectAlgorithm" do
        ['{"alg":"none"}', '{"alg":"hs256"}', '{"alg":"HS512"}', '{"alg":"RS256"}', '{"typ":"JWT"}',
         '{"alg":null}', '{"alg":256}', '{"alg":["HS256"]}', '{"alg":{"x":"HS256"}}', '{"alg":"HS256 "}',
         '{"alg":"HS256\u0000"}'].each do |header|
          expect { key.decode(raw_token(header, payload_json)) }.to raise_error(MailroomJWT::IncorrectAlgorithm), header
        end
      end

      it "alg none with an empty signature: IncorrectAlgorithm, before the MAC" do
        token = "#{b64url('{"alg":"none"}')}.#{b64url(payload_json)}."
        expect { key.decode(token) }.to raise_error(MailroomJWT::IncorrectAlgorithm)
      end

      it "checks in order: structure, then the header's alg, then the MAC, then the payload" do
        not_json = "not json"
        expect { key.decode(raw_token('{"alg":"none"}', not_json)) }.to raise_error(MailroomJWT::IncorrectAlgorithm)
        forged = raw_token('{"alg":"HS256"}', not_json, with: "another key of thirty-two bytes!")
        expect { key.decode(forged) }.to raise_error(MailroomJWT::VerificationError)
        expect { key.decode(raw_token('{"alg":"HS256"}', not_json)) }
          .to raise_error(MailroomJWT::DecodeError, "Invalid JSON object")
      end

      it "a bad, truncated, empty or re-spelled signature: VerificationError" do
        token = key.encode(claims)
        input, sig = token.rpartition(".").values_at(0, 2)
        flipped = sig.dup
        flipped[5] = flipped[5] == "A" ? "B" : "A"
        # 43 characters carry 258 bits: the last character's low 2 bits must be zero.
        alphabet = [*"A".."Z", *"a".."z", *"0".."9", "-", "_"]
        respelled = sig[0..-2] + alphabet[alphabet.index(sig[-1]) | 1]
        [
          "#{input}.#{flipped}", "#{input}.#{sig[0..-2]}", "#{input}.#{sig[0, 20]}", "#{input}.",
          "#{input}.#{respelled}", "#{input}.#{sig}AA", "#{input}.#{sig}A",
          "#{input}.#{b64url(OpenSSL::HMAC.digest('SHA256', 'another key of thirty-two bytes!', input))}"
        ].each do |bad|
          expect { key.decode(bad) }.to raise_error(MailroomJWT::VerificationError), bad
          expect(key.verify(bad)).to be(false)
        end
        expect(respelled).not_to eq(sig)
        # Lenient decoders read both spellings as the same 32 bytes.
        expect(respelled.tr("-_", "+/").unpack1("m")).to eq(sig.tr("-_", "+/").unpack1("m"))
      end

      it "a token signed with another key: VerificationError" do
        other = described_class.generate.encode(claims)
        expect { key.decode(other) }.to raise_error(MailroomJWT::VerificationError, "Signature verification failed")
      end

      it "wrong segment counts, empty segments, whitespace and foreign bytes: DecodeError" do
        token = key.encode(claims)
        h, p, s = token.split(".")
        [
          "", ".", "..", "...", h, "#{h}.#{p}", "#{token}.", "#{token}.#{s}", ".#{p}.#{s}", "#{h}..#{s}",
          " #{token}", "#{token}\n", "#{h}.#{p} .#{s}", "#{h}.#{p}.#{s} ", "#{h}\t.#{p}.#{s}",
          "#{h}=.#{p}.#{s}", "#{h}.#{p}=.#{s}", "#{token}=", token.tr("-_", "+/").then { |t| t == token ? "#{h}+.#{p}.#{s}" : t },
          "#{h}.#{p}.#{s}\0", "é#{token}", "#{h}.#{p}.#{s}".encode("UTF-16LE")
        ].each do |bad|
          expect { key.decode(bad) }.to raise_error(MailroomJWT::DecodeError), bad.inspect
          expect(key.verify(bad)).to be(false)
        end
      end

      it "non-canonical base64url in header or payload: DecodeError (not a signature failure)" do
        h = b64url('{"alg":"HS256"}')
        p = b64url('{"x":"yz"}') # 10 bytes: 14 characters with 4 trailing bits
        alphabet = [*"A".."Z", *"a".."z", *"0".."9", "-", "_"]
        bent = p[0..-2] + alphabet[alphabet.index(p[-1]) | 1]
        input = "#{h}.#{bent}"
        sig = b64url(OpenSSL::HMAC.digest("SHA256", secret, input))
        expect { key.decode("#{input}.#{sig}") }.to raise_error(MailroomJWT::DecodeError, "Invalid segment encoding")
        expect { key.decode("#{h}.#{p}AAA.#{sig}") }.to raise_error(MailroomJWT::DecodeError, "Invalid segment encoding")
      end

      it "an oversize token: DecodeError before any work" do
        max = MailroomJWT::Native::TOKEN_MAX
        expect { key.decode("a" * (max + 1)) }.to raise_error(MailroomJWT::DecodeError, /too long/)
        expect { key.decode("." * (4 * 1024 * 1024)) }.to raise_error(MailroomJWT::DecodeError, /too long/)
      end

      it "a header or payload that is not a JSON object: DecodeError" do
        ["[]", '"HS256"', "1", "null", "", "{", '{"alg":"HS256",}', '{"alg":"HS256"} x', "{'alg':'HS256'}",
         '{"alg":"HS256"/*c*/}', '{"alg":"HS256","n":NaN}', '{"alg":"HS256","n":01}'].each do |header|
          next if header.empty? # an empty segment, below

          expect { key.decode(raw_token(header, '{"a":1}')) }.to raise_error(MailroomJWT::DecodeError), header
          expect { key.decode(raw_token('{"alg":"HS256"}', header)) }.to raise_error(MailroomJWT::DecodeError), header
        end
      end

      it "duplicate header or claim names, even spelled differently: DecodeError" do
        expect { key.decode(raw_token('{"alg":"HS256","alg":"HS256"}', '{"a":1}')) }
          .to raise_error(MailroomJWT::DecodeError, /duplicate header/)
        expect { key.decode(raw_token('{"alg":"none","alg":"HS256"}', '{"a":1}')) }
          .to raise_error(MailroomJWT::DecodeError, /duplicate header/)
        expect { key.decode(raw_token('{"alg":"HS256","\u0061lg":"HS256"}', '{"a":1}')) }
          .to raise_error(MailroomJWT::DecodeError, /duplicate header/)
        expect { key.decode(raw_token('{"alg":"HS256"}', '{"iss":"a","iss":"b"}')) }
          .to raise_error(MailroomJWT::InvalidPayload, /duplicate claim/)
      end

      it "a crit header: DecodeError" do
        expect { key.decode(raw_token('{"alg":"HS256","crit":["exp"],"exp":1}', '{"a":1}')) }
          .to raise_error(MailroomJWT::DecodeError, /crit/)
      end

      it "invalid UTF-8 in header or payload: DecodeError" do
        ["\xFF", "\xC0\xAF", "\xED\xA0\x80", "\xF4\x90\x80\x80", "\xE2\x82"].each do |bytes|
          payload = %({"x":"#{bytes}"}).b
          expect { key.decode(raw_token('{"alg":"HS256"}', payload)) }.to raise_error(MailroomJWT::DecodeError)
          header = %({"alg":"HS256","k":"#{bytes}"}).b
          expect { key.decode(raw_token(header, '{"a":1}')) }.to raise_error(MailroomJWT::DecodeError)
        end
        expect { key.decode(raw_token('{"alg":"HS256"}', '{"x":"\ud800"}')) }.to raise_error(MailroomJWT::DecodeError)
        expect(key.decode(raw_token('{"alg":"HS256"}', '{"x":"\ud83d\ude00"}')).first).to eq("x" => "😀")
      end

      it "deep nesting: DecodeError, not SystemStackError" do
        deep = %({"a":#{'[' * 10_000}#{']' * 10_000}})
        expect { key.decode(raw_token('{"alg":"HS256"}', deep)) }.to raise_error(MailroomJWT::DecodeError)
        ok = %({"a":#{'[' * 30}#{']' * 30}})
        expect(key.decode(raw_token('{"alg":"HS256"}', ok)).first["a"]).to be_an(Array)
      end

      it "anything that is not a String: DecodeError" do
        [nil, 42, :sym, ["a.b.c"], { "a" => 1 }, Object.new].each do |bad|
          expect { key.decode(bad) }.to raise_error(MailroomJWT::DecodeError)
          expect(key.verify(bad)).to be(false)
        end
      end
    end
  end

  describe "#verify" do
    it "checks structure, alg and MAC only: the payload may be any bytes" do
      input = "#{b64url('{"alg":"HS256"}')}.#{b64url("\xFF not json".b)}"
      token = "#{input}.#{b64url(OpenSSL::HMAC.digest('SHA256', secret, input))}"
      expect(key.verify(token)).to be(true)
      expect { key.decode(token) }.to raise_error(MailroomJWT::DecodeError)
    end

    it "is false for a wrong alg even with a good MAC" do
      expect(key.verify(raw_token('{"alg":"hs256"}', '{"a":1}'))).to be(false)
      expect(key.verify(raw_token('{"alg":"HS256"}', '{"a":1}'))).to be(true)
    end

    it "ignores the claims" do
      expect(key.verify(key.encode(claims.merge("exp" => now - 1000)))).to be(true)
    end
  end

  describe "secret files" do
    around { |example| Dir.mktmpdir { |dir| @dir = dir; example.run } }

    let(:path) { File.join(@dir, "secret") }
    let(:quiet) { Logger.new(StringIO.new) }

    it "round-trips through #write and .read" do
      key.write(path)
      expect(File.read(path)).to eq(Base64.strict_encode64(secret))
      expect(File.stat(path).mode & 0o777).to eq(0o600)
      expect(described_class.read(path)).to eq(key)
    end

    it "writes mode 0600 even when the file existed with another mode, and leaves no temporary file" do
      File.write(path, "old")
      File.chmod(0o644, path)
      key.write(path)
      expect(File.stat(path).mode & 0o777).to eq(0o600)
      expect(Dir.children(@dir)).to eq(["secret"])
    end

    it "reads what GitLab and echo write: with no newline, \\n or \\r\\n" do
      ["", "\n", "\r\n"].each do |ending|
        File.write(path, Base64.strict_encode64(secret) + ending)
        File.chmod(0o600, path)
        expect(described_class.read(path)).to eq(key)
      end
    end

    it "accepts a Pathname" do
      key.write(Pathname(path))
      expect(described_class.read(Pathname(path))).to eq(key)
    end

    describe "refuses with SecretFileError naming the path and the reason, never the content" do
      good = Base64.strict_encode64("0123456789abcdef0123456789ABCDEF")
      {
        "empty" => ["", /empty/],
        "only a newline" => ["\n", /empty/],
        "two newlines" => ["#{good}\n\n", /base64/],
        "inner whitespace" => ["#{good[0, 20]} #{good[20..]}", /base64/],
        "a leading space" => [" #{good}", /base64/],
        "bad characters" => [good.sub("A", "*"), /base64/],
        "urlsafe alphabet" => [Base64.strict_encode64("\xFB\xFF".b * 16).tr("+/", "-_"), /base64/],
        "missing padding" => [good.delete("="), /base64/],
        "extra padding" => ["#{good}=", /base64/],
        "non-zero padding bits" => ["#{good[0..-3]}B=", /base64/],
        "16 bytes" => [Base64.strict_encode64("k" * 16), /32 bytes/],
        "33 bytes" => [Base64.strict_encode64("k" * 33), /32 bytes/],
        "64 bytes" => [Base64.strict_encode64("k" * 64), /32 bytes/],
        "raw bytes" => ["k" * 32, /base64|32 bytes/],
        "too large" => ["A" * 4096, /too large/]
      }.each do |name, (content, reason)|
        it name do
          File.binwrite(path, content)
          File.chmod(0o600, path)
          expect { described_class.read(path) }.to raise_error(MailroomJWT::SecretFileError) { |e|
            expect(e.message).to start_with(path)
            expect(e.message).to match(reason)
            expect(e.message).not_to include(content) unless content.empty? || content == "\n"
            expect(e.message).not_to include(good[0, 12])
          }
        end
      end

      it "a missing file" do
        expect { described_class.read(path) }.to raise_error(MailroomJWT::SecretFileError, /#{Regexp.escape(path)}: cannot open/)
      end

      it "a directory" do
        expect { described_class.read(@dir) }.to raise_error(MailroomJWT::SecretFileError, /not a regular file/)
      end

      it "a FIFO, without blocking" do
        fifo = File.join(@dir, "fifo")
        File.mkfifo(fifo)
        expect { described_class.read(fifo) }.to raise_error(MailroomJWT::SecretFileError, /not a regular file/)
      end

      it "/dev/zero, without reading it" do
        expect { described_class.read("/dev/zero") }.to raise_error(MailroomJWT::SecretFileError, /not a regular file/)
      end

      it "a path with a NUL byte, or not a String" do
        expect { described_class.read("#{path}\0x") }.to raise_error(MailroomJWT::SecretFileError, /NUL/)
        expect { described_class.read(nil) }.to raise_error(MailroomJWT::SecretFileError)
        expect { described_class.read(42) }.to raise_error(MailroomJWT::SecretFileError)
      end

      it "a write into a folder that does not exist" do
        expect { key.write(File.join(@dir, "no", "such")) }.to raise_error(MailroomJWT::SecretFileError, /cannot write/)
      end
    end

    it "follows a symlink to a regular file" do
      key.write(path)
      link = File.join(@dir, "link")
      File.symlink(path, link)
      expect(described_class.read(link)).to eq(key)
    end

    it "warns through the logger about a group- or world-readable file, and still reads it" do
      key.write(path)
      File.chmod(0o644, path)
      log = StringIO.new
      expect(described_class.read(path, logger: Logger.new(log))).to eq(key)
      expect(log.string).to include(path).and include("0644").and include("chmod 600")
      expect(log.string).not_to include(Base64.strict_encode64(secret))

      File.chmod(0o600, path)
      quiet_log = StringIO.new
      described_class.read(path, logger: Logger.new(quiet_log))
      expect(quiet_log.string).to eq("")
    end
  end
end
