# frozen_string_literal: true

require "base64"
require "jwt"
require "tmpdir"
require "mail_room/jwt"

RSpec.describe MailroomJWT::Token do
  around do |example|
    Dir.mktmpdir("token-spec") do |dir|
      @dir = dir
      example.run
    end
  end

  let(:secret) { Random.bytes(32) }
  let(:path) { write_secret_file(File.join(@dir, "secret"), secret) }
  let(:header) { "Gitlab-Mailroom-Api-Request" }

  def parts(token)
    token.split(".").first(2).map { |seg| JSON.parse(Base64.urlsafe_decode64(seg + ("=" * (-seg.size % 4)))) }
  end

  describe "as a drop-in for MailRoom::JWT" do
    it "takes the same keywords and has the same defaults and readers" do
      ours = described_class.new(header: header, secret_path: path, issuer: nil, algorithm: nil)
      theirs = MailRoom::JWT.new(header: header, secret_path: path, issuer: nil, algorithm: nil)

      %i[header secret_path issuer algorithm].each do |reader|
        expect(ours.public_send(reader)).to eq(theirs.public_send(reader))
      end
      expect(ours.issuer).to eq("mailroom")
      expect(ours.algorithm).to eq("HS256")
    end

    it "is valid exactly when mail_room's is" do
      [
        { header: header, secret_path: path },
        { header: nil, secret_path: path },
        { header: header, secret_path: nil }
      ].each do |args|
        ours = described_class.new(**args, issuer: nil, algorithm: nil)
        theirs = MailRoom::JWT.new(**args, issuer: nil, algorithm: nil)
        expect(ours.valid?).to eq(theirs.valid?)
        expect(ours.token).to be_nil unless ours.valid?
      end
    end

    it "makes a token of exactly mail_room's shape that ruby-jwt verifies" do
      token = described_class.new(header: header, secret_path: path, issuer: "gitlab-mailroom").token
      theirs = MailRoom::JWT.new(header: header, secret_path: path, issuer: "gitlab-mailroom", algorithm: nil).token

      ours_header, ours_payload = parts(token)
      their_header, their_payload = parts(theirs)
      expect(ours_header).to eq(their_header)
      expect(token.split(".").first).to eq("eyJhbGciOiJIUzI1NiJ9") # {"alg":"HS256"}, no typ
      expect(ours_payload.keys).to eq(their_payload.keys)
      expect(ours_payload.keys).to eq(%w[nonce iat iss])
      expect(ours_payload["nonce"]).to match(/\A[0-9a-f]{24}\z/)
      expect(ours_payload["iat"]).to be_within(2).of(Time.now.to_i)

      payload, = JWT.decode(token, secret, true, algorithm: "HS256", iss: "gitlab-mailroom", verify_iss: true)
      expect(payload["iss"]).to eq("gitlab-mailroom")
    end

    it "uses a fresh nonce for every token" do
      token = described_class.new(header: header, secret_path: path)
      nonces = Array.new(50) { parts(token.token).last["nonce"] }
      expect(nonces.uniq.size).to eq(50)
    end
  end

  describe "the secret file" do
    it "reads the file once and keeps the key while the file is unchanged" do
      token = described_class.new(header: header, secret_path: path)
      first = token.key
      expect(token.key).to equal(first)
    end

    it "picks up a rotated file without a restart" do
      token = described_class.new(header: header, secret_path: path)
      old_key = token.key
      new_secret = Random.bytes(32)
      write_secret_file("#{path}.new", new_secret)
      File.rename("#{path}.new", path)

      expect(token.key).not_to eq(old_key)
      expect(JWT.decode(token.token, new_secret, true, algorithm: "HS256").first["iss"]).to eq("mailroom")
    end

    it "fails loudly with the path and the reason, never the content" do
      File.write(path, Base64.strict_encode64(Random.bytes(16)))
      token = described_class.new(header: header, secret_path: path)
      expect { token.token }.to raise_error(MailroomJWT::SecretFileError) { |e|
        expect(e.message).to include(path)
        expect(e.message).not_to include(File.read(path))
      }
    end

    it "names a missing file" do
      missing = File.join(@dir, "nope")
      token = described_class.new(header: header, secret_path: missing)
      expect { token.token }.to raise_error(MailroomJWT::SecretFileError, /#{Regexp.escape(missing)}/)
    end

    it "fails when a file that was read goes missing" do
      token = described_class.new(header: header, secret_path: path)
      token.token
      File.unlink(path)
      expect { token.token }.to raise_error(MailroomJWT::SecretFileError)
    end

    it "warns, through its logger, about a file others can read" do
      File.chmod(0o644, path)
      logger, io = string_logger
      described_class.new(header: header, secret_path: path, logger: logger).token
      expect(io.string).to include("#{path} is readable by group or others")
      expect(io.string).not_to include(Base64.strict_encode64(secret))
    end

    it "signs with the first of several secret paths" do
      second = File.join(@dir, "second")
      write_secret_file(second)
      token = described_class.new(header: header, secret_path: [path, second]).token
      expect(JWT.decode(token, secret, true, algorithm: "HS256").first["iss"]).to eq("mailroom")
    end
  end

  it "refuses any algorithm but HS256" do
    %w[HS512 none hs256 RS256].each do |alg|
      expect { described_class.new(header: header, secret_path: path, algorithm: alg) }
        .to raise_error(MailroomJWT::SenderConfigurationError, /HS256/)
    end
  end

  it "never shows the secret in inspect" do
    token = described_class.new(header: header, secret_path: path)
    token.token
    expect(token.inspect).not_to include(Base64.strict_encode64(secret))
    expect(token.key.inspect).to match(/fingerprint=\h{16}/)
  end

  describe "opt-in claims" do
    it "adds the mailbox type as aud" do
      token = described_class.new(header: header, secret_path: path, audience: "incoming_email").token
      payload, = JWT.decode(token, secret, true, algorithm: "HS256", aud: "incoming_email", verify_aud: true)
      expect(payload["aud"]).to eq("incoming_email")
    end

    it "binds the token to the exact body bytes" do
      body = "Subject: caf\xC3\xA9\r\n\r\nbody \xFF\r\n".b
      token = described_class.new(header: header, secret_path: path, bind_body: true).token(body: body)
      payload, = JWT.decode(token, secret, true, algorithm: "HS256")
      expected = Base64.urlsafe_encode64(OpenSSL::Digest.digest("SHA256", body), padding: false)
      expect(payload["body_sha256"]).to eq(expected)
      expect(payload["body_sha256"]).not_to include("=")
      expect(described_class.body_digest(body.dup.force_encoding("UTF-8"))).to eq(expected)
    end

    it "needs the body when bound to it" do
      token = described_class.new(header: header, secret_path: path, bind_body: true)
      expect { token.token }.to raise_error(MailroomJWT::EncodeError, /body/)
    end

    it "adds exp = iat + expires_in when asked" do
      token = described_class.new(header: header, secret_path: path, expires_in: 60).token
      payload, = JWT.decode(token, secret, true, algorithm: "HS256")
      expect(payload["exp"]).to eq(payload["iat"] + 60)
    end

    it "refuses a lifetime that is not a positive whole number of seconds" do
      [0, -5, 1.5, "60"].each do |bad|
        expect { described_class.new(header: header, secret_path: path, expires_in: bad) }
          .to raise_error(MailroomJWT::SenderConfigurationError)
      end
    end

    it "keeps mail_room's exact claims when nothing is opted in" do
      token = described_class.new(header: header, secret_path: path).token(body: "ignored")
      expect(parts(token).last.keys).to eq(%w[nonce iat iss])
    end
  end
end
