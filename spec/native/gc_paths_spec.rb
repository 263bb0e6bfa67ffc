# frozen_string_literal: true

require "tmpdir"

# Every entry point of the extension, a few times each, every result
# checked. It runs in the normal suite, and it is the subset that
# `rake gc:stress` runs with GC_STRESS=1 (a collection at every allocation,
# which is 1000 times slower than a normal run): a Ruby object that the C
# code forgot to keep alive, or a pointer into a string that moved, shows up
# here as a crash or a wrong result.
RSpec.describe "the extension's entry points (the GC_STRESS subset)" do
  let(:bytes) { "gc paths spec key of 32 bytes..." }
  let(:key) { MailroomJWT::Key.new(bytes) }

  it "encodes, opens, verifies and decodes, with the strings built in C intact" do
    2.times do |i|
      payload = { "iss" => "gitlab-mailroom", "iat" => 1_700_000_000 + i, "nonce" => format("%024x", i),
                  "s" => "\u00e9\u{1F600}" * (i + 1) }
      token = key.encode(payload, i.zero? ? {} : { "kid" => "k#{i}" })
      expect(token).to match(/\A[\w-]+\.[\w-]+\.[\w-]{43}\z/)
      expect(key.verify(token)).to be(true)
      decoded, header = key.decode(token, verify_expiration: false)
      expect(decoded).to eq(payload)
      expect(header).to eq(i.zero? ? { "alg" => "HS256" } : { "alg" => "HS256", "kid" => "k#{i}" })
      expect(decoded["s"].encoding).to eq(Encoding::UTF_8)
      expect(key.decode_without_claims(token, verify_signature: false)).to eq([decoded, header])
      expect(MailroomJWT.decode(token, bytes).first).to eq(payload)
    end
  end

  it "raises the gem's errors from C with their messages" do
    token = key.encode({ "a" => 1 })
    expect { key.decode("#{token}x") }.to raise_error(MailroomJWT::VerificationError)
    expect { key.decode("a.b") }.to raise_error(MailroomJWT::DecodeError, "Not enough or too many segments")
    expect { key.decode("e30.e30=.x") }.to raise_error(MailroomJWT::DecodeError, "Invalid character in token")
    not_an_object = "eyJhbGciOiJIUzI1NiJ9.W10" # a payload of [] under a correct MAC
    not_an_object += ".#{b64url(OpenSSL::HMAC.digest('SHA256', bytes, not_an_object))}"
    expect { key.decode(not_an_object) }.to raise_error(MailroomJWT::DecodeError, "Invalid JSON object")
    expect(key.verify("#{token}x")).to be(false)
  end

  it "builds keys three ways, compares them and fingerprints them" do
    Dir.mktmpdir("mailroom-jwt-gc") do |dir|
      path = File.join(dir, "secret")
      generated = MailroomJWT::Key.generate
      generated.write(path)
      read = MailroomJWT::Key.read(path, logger: nil)
      expect(read).to eq(generated)
      expect(read.fingerprint).to eq(generated.fingerprint).and match(/\A\h{16}\z/)
      expect(read).not_to eq(key)
      expect(MailroomJWT::Key.new("x" * 100)).to eq(MailroomJWT::Key.new(OpenSSL::Digest::SHA256.digest("x" * 100)))
      expect { MailroomJWT::Key.read(File.join(dir, "missing"), logger: nil) }
        .to raise_error(MailroomJWT::SecretFileError, /cannot open/)
    end
  end

  it "runs the Native helpers" do
    data = (0..255).map(&:chr).join.b
    encoded = MailroomJWT::Native.b64url_encode(data)
    expect(MailroomJWT::Native.b64url_decode(encoded)).to eq(data)
    expect { MailroomJWT::Native.b64url_decode("A") }.to raise_error(MailroomJWT::DecodeError)
    mac = MailroomJWT::Native.hmac(bytes, "data")
    expect(mac).to eq(OpenSSL::HMAC.digest("SHA256", bytes, "data"))
    expect(MailroomJWT::Native.mac_equal?(mac, mac.dup)).to be(true)
    expect(MailroomJWT::Native.mac_equal?(mac, mac.reverse)).to be(false)
  end

  it "uses one key from several threads" do
    results = Array.new(3) do |t|
      Thread.new { Array.new(2) { |i| key.decode(key.encode({ "t" => t, "i" => i })).first == { "t" => t, "i" => i } } }
    end.flat_map(&:value)
    expect(results).to eq([true] * 6)
  end
end
