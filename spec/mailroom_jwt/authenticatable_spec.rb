# frozen_string_literal: true

require "jwt"

RSpec.describe MailroomJWT::Authenticatable do
  let(:test_class) do
    path = File.join(receiver_tmpdir, ".jwt_shared_secret")
    Class.new do
      include MailroomJWT::Authenticatable

      define_singleton_method(:secret_path) { path }
    end
  end
  let(:secret_path) { test_class.secret_path }

  before { test_class.write_secret }

  it "gives the including class SECRET_LENGTH = 32" do
    expect(test_class::SECRET_LENGTH).to eq(32)
  end

  shared_examples "reading the secret from the secret path" do
    it "returns 32 binary bytes" do
      expect(secret).to be_a(String)
      expect(secret.bytesize).to eq(32)
      expect(secret.encoding).to eq(Encoding::BINARY)
      expect(secret).to eq(File.read(secret_path).unpack1("m0"))
    end

    it "accepts a trailing newline" do
      File.open(secret_path, "a") { |f| f.write("\n") }

      expect(secret.bytesize).to eq(32)
    end

    it "raises SecretFileError naming the path when the file cannot be read" do
      File.delete(secret_path)

      expect { secret }.to raise_error(MailroomJWT::SecretFileError, /#{Regexp.escape(secret_path)}: cannot open/)
    end

    it "raises SecretFileError when the file is empty" do
      File.truncate(secret_path, 0)

      expect { secret }.to raise_error(MailroomJWT::SecretFileError, /empty/)
    end

    it "raises SecretFileError, without the content, when the file decodes to the wrong number of bytes" do
      content = [Random.bytes(31)].pack("m0")
      File.write(secret_path, content)

      expect { secret }.to raise_error(MailroomJWT::SecretFileError, /exactly 32 bytes/) { |e|
        expect(e.message).not_to include(content)
      }
    end
  end

  describe ".secret" do
    subject(:secret) { test_class.secret }

    it_behaves_like "reading the secret from the secret path"

    it "reads the file once while it does not change" do
      first = test_class.secret
      allow(test_class).to receive(:read_secret).and_call_original

      3.times { expect(test_class.secret).to equal(first) }
      expect(test_class).not_to have_received(:read_secret)
    end

    it "picks up a replaced secret file without a restart" do
      old = test_class.secret
      test_class.write_secret

      expect(test_class.secret).not_to eq(old)
      expect(test_class.secret).to eq(File.read(secret_path).unpack1("m0"))
    end

    it "picks up a secret file rewritten in place with the same size" do
      old = test_class.secret
      new_bytes = Random.bytes(32)
      File.open(secret_path, "r+") { |f| f.write([new_bytes].pack("m0")) }
      File.utime(Time.now + 5, Time.now + 5, secret_path) # a rewrite within the same clock tick

      expect(test_class.secret).to eq(new_bytes)
      expect(test_class.secret).not_to eq(old)
    end
  end

  describe ".read_secret" do
    subject(:secret) { test_class.read_secret(secret_path) }

    it_behaves_like "reading the secret from the secret path"

    it "agrees with Key.read on what a valid secret file is" do
      good = [Random.bytes(32)].pack("m0")
      contents = [good, "#{good}\n", "#{good}\r\n", "#{good}\r", "#{good}\n\n", " #{good}", "#{good[0, 20]} #{good[20..]}",
                  good.delete("="), "#{good}=", [Random.bytes(33)].pack("m0"), "", "\n", good.tr("+/", "-_")]
      contents.each do |content|
        File.write(secret_path, content)
        key_ok = begin
          MailroomJWT::Key.read(secret_path, logger: nil)
        rescue MailroomJWT::SecretFileError
          false
        end
        bytes_ok = begin
          test_class.read_secret(secret_path)
        rescue MailroomJWT::SecretFileError
          false
        end
        expect([content, bytes_ok ? true : false]).to eq([content, key_ok ? true : false])
        expect(MailroomJWT::Key.new(bytes_ok)).to eq(key_ok) if bytes_ok
      end
    end

    it "refuses a directory and a file over the size cap" do
      expect { test_class.read_secret(receiver_tmpdir) }
        .to raise_error(MailroomJWT::SecretFileError, /not a regular file/)
      File.write(secret_path, "A" * 2000)
      expect { test_class.read_secret(secret_path) }.to raise_error(MailroomJWT::SecretFileError, /too large/)
    end

    it "warns about a secret file others can read" do
      File.chmod(0o644, secret_path)
      logger = instance_double(Logger)
      allow(logger).to receive(:warn)
      MailroomJWT::Authenticatable.read_secret_bytes(secret_path, logger: logger)

      expect(logger).to have_received(:warn).with(/readable by group or others.*chmod 600/)
    end
  end

  describe ".write_secret" do
    it "writes strict base64 of 32 bytes with mode 0600" do
      expect(File.stat(secret_path).mode & 0o777).to eq(0o600)
      expect(File.read(secret_path).unpack1("m0").bytesize).to eq(32)
    end

    it "writes to another path when given, and fixes the mode of an existing file" do
      another = File.join(receiver_tmpdir, ".jwt_another_shared_secret")
      File.write(another, "old", perm: 0o644)
      test_class.write_secret(another)

      expect(File.stat(another).mode & 0o777).to eq(0o600)
      expect(File.read(another).unpack1("m0").bytesize).to eq(32)
    end
  end

  describe ".decode_jwt" do
    let(:payload) { {} }

    context "with the class secret" do
      it "accepts a correct token and returns [payload, header]" do
        token = JWT.encode(payload.merge("sub" => "x"), test_class.secret, "HS256")

        expect(test_class.decode_jwt(token)).to eq([{ "sub" => "x" }, { "alg" => "HS256" }])
      end

      it "refuses an unsigned token" do
        token = JWT.encode(payload, nil, "none")

        expect { test_class.decode_jwt(token) }.to raise_error(MailroomJWT::IncorrectAlgorithm)
      end

      it "refuses a token signed with the wrong secret" do
        token = JWT.encode(payload, "wrongsecret", "HS256")

        expect { test_class.decode_jwt(token) }.to raise_error(MailroomJWT::VerificationError)
      end

      it "refuses a token signed before the secret was rotated" do
        token = JWT.encode(payload, test_class.secret, "HS256")
        test_class.write_secret

        expect { test_class.decode_jwt(token) }.to raise_error(MailroomJWT::VerificationError)
      end
    end

    context "with a secret given" do
      let(:another_secret) { "another secret, long enough for HS256" }

      it "accepts a correct token" do
        token = JWT.encode(payload, another_secret, "HS256")

        expect(test_class.decode_jwt(token, another_secret)[0]).to eq({})
      end

      it "refuses an unsigned token" do
        expect { test_class.decode_jwt(JWT.encode(payload, nil, "none"), another_secret) }
          .to raise_error(MailroomJWT::IncorrectAlgorithm)
      end

      it "refuses a token signed with the wrong secret" do
        expect { test_class.decode_jwt(JWT.encode(payload, "wrongsecret", "HS256"), another_secret) }
          .to raise_error(MailroomJWT::VerificationError)
      end

      it "refuses a secret shorter than 32 bytes with a DecodeError, not an ArgumentError" do
        token = JWT.encode(payload, "short", "HS256")

        expect { test_class.decode_jwt(token, "short") }.to raise_error(MailroomJWT::DecodeError, /at least 32 bytes/)
      end

      it "accepts a Key, or an Array of secrets any of which signed the token" do
        key = MailroomJWT::Key.generate
        token = key.encode({ "n" => 1 })

        expect(test_class.decode_jwt(token, key)[0]).to eq({ "n" => 1 })
        expect(test_class.decode_jwt(token, [test_class.secret, key])[0]).to eq({ "n" => 1 })
        expect { test_class.decode_jwt(token, [test_class.secret, another_secret]) }
          .to raise_error(MailroomJWT::VerificationError)
      end
    end

    context "with issuer:" do
      let(:payload) { { "iss" => "test_issuer" } }

      it "returns the payload when the issuer is right" do
        token = JWT.encode(payload, test_class.secret, "HS256")

        expect(test_class.decode_jwt(token, issuer: "test_issuer")[0]).to include("iss" => "test_issuer")
      end

      it "refuses another issuer" do
        token = JWT.encode(payload.merge("iss" => "somebody else"), test_class.secret, "HS256")

        expect { test_class.decode_jwt(token, issuer: "test_issuer") }.to raise_error(MailroomJWT::InvalidIssuerError)
      end

      it "refuses a nil issuer" do
        token = JWT.encode(payload.merge("iss" => nil), test_class.secret, "HS256")

        expect { test_class.decode_jwt(token, issuer: "test_issuer") }.to raise_error(MailroomJWT::InvalidIssuerError)
      end

      it "does not check the issuer when issuer is blank, as GitLab's present? does" do
        token = JWT.encode(payload.merge("iss" => "anyone"), test_class.secret, "HS256")

        expect(test_class.decode_jwt(token, issuer: "")[0]).to include("iss" => "anyone")
      end
    end

    context "with audience:" do
      let(:payload) { { "aud" => "test_audience" } }

      it "returns the payload when the audience is right" do
        token = JWT.encode(payload, test_class.secret, "HS256")

        expect(test_class.decode_jwt(token, audience: "test_audience")[0]).to include("aud" => "test_audience")
      end

      it "refuses another audience" do
        token = JWT.encode(payload.merge("aud" => "somebody else"), test_class.secret, "HS256")

        expect { test_class.decode_jwt(token, audience: "test_audience") }.to raise_error(MailroomJWT::InvalidAudError)
      end

      it "refuses a nil audience" do
        token = JWT.encode(payload.merge("aud" => nil), test_class.secret, "HS256")

        expect { test_class.decode_jwt(token, audience: "test_audience") }.to raise_error(MailroomJWT::InvalidAudError)
      end
    end

    context "with iat_after:" do
      let(:now) { Time.now.to_i }

      it "returns the payload when iat is recent enough" do
        token = JWT.encode(payload.merge(iat: now - 10), test_class.secret, "HS256")

        expect(test_class.decode_jwt(token, iat_after: Time.at(now - 20))[0]).to include("iat" => now - 10)
      end

      it "passes at the boundary (iat == iat_after)" do
        token = JWT.encode(payload.merge(iat: now - 20), test_class.secret, "HS256")

        expect(test_class.decode_jwt(token, iat_after: Time.at(now - 20))[0]).to include("iat" => now - 20)
      end

      it "refuses an iat in the future" do
        token = JWT.encode(payload.merge(iat: now + 60), test_class.secret, "HS256")

        expect { test_class.decode_jwt(token, iat_after: true) }.to raise_error(MailroomJWT::InvalidIatError)
      end

      it "refuses a missing iat with GitLab's message" do
        token = JWT.encode(payload, test_class.secret, "HS256")

        expect { test_class.decode_jwt(token, iat_after: true) }
          .to raise_error(MailroomJWT::InvalidIatError, "JWT iat claim is missing")
      end

      it "refuses a string iat" do
        # Neither ruby-jwt nor this gem signs it: made by hand.
        signing_input = "#{b64url('{"alg":"HS256"}')}.#{b64url('{"iat":"wrong"}')}"
        token = "#{signing_input}.#{b64url(OpenSSL::HMAC.digest('SHA256', test_class.secret, signing_input))}"

        expect { test_class.decode_jwt(token, iat_after: Time.at(now - 20)) }
          .to raise_error(MailroomJWT::InvalidIatError)
      end

      it "refuses an iat too far in the past with ExpiredSignature 'Token has expired'" do
        token = JWT.encode(payload.merge(iat: now - 30), test_class.secret, "HS256")

        expect { test_class.decode_jwt(token, iat_after: Time.at(now - 20)) }
          .to raise_error(MailroomJWT::ExpiredSignature, "Token has expired")
      end

      it "lets a leeway accept a slightly future iat and a slightly old one" do
        future = JWT.encode(payload.merge(iat: now + 3), test_class.secret, "HS256")
        old = JWT.encode(payload.merge(iat: now - 23), test_class.secret, "HS256")

        expect(test_class.decode_jwt(future, iat_after: Time.at(now - 20), leeway: 5)[0]).to include("iat" => now + 3)
        expect(test_class.decode_jwt(old, iat_after: Time.at(now - 20), leeway: 5)[0]).to include("iat" => now - 23)
        expect { test_class.decode_jwt(future, iat_after: Time.at(now - 20)) }
          .to raise_error(MailroomJWT::InvalidIatError)
      end
    end

    it "checks exp and nbf when present" do
      expired = JWT.encode({ "exp" => Time.now.to_i - 10 }, test_class.secret, "HS256")
      immature = JWT.encode({ "nbf" => Time.now.to_i + 60 }, test_class.secret, "HS256")

      expect { test_class.decode_jwt(expired) }.to raise_error(MailroomJWT::ExpiredSignature)
      expect { test_class.decode_jwt(immature) }.to raise_error(MailroomJWT::ImmatureSignature)
    end

    context "with algorithm:" do
      it "accepts HS256 given explicitly" do
        token = JWT.encode(payload, test_class.secret, "HS256")

        expect(test_class.decode_jwt(token, algorithm: "HS256")[1]).to eq({ "alg" => "HS256" })
      end

      it "refuses any other algorithm named by the server" do
        token = JWT.encode(payload, test_class.secret, "HS256")

        expect { test_class.decode_jwt(token, algorithm: "RS256") }.to raise_error(MailroomJWT::IncorrectAlgorithm)
      end

      it "never takes the algorithm from the token" do
        token = JWT.encode(payload, test_class.secret, "HS512")

        expect { test_class.decode_jwt(token) }.to raise_error(MailroomJWT::IncorrectAlgorithm)
      end
    end
  end
end
