# frozen_string_literal: true

RSpec.describe "native strict base64url" do
  native = MailroomJWT::Native
  alphabet = [*"A".."Z", *"a".."z", *"0".."9", "-", "_"]

  it "round-trips random bytes of every length in the RFC 4648 section 5 alphabet without padding" do
    rng = Random.new(7)
    (0..200).each do |n|
      bytes = rng.bytes(n)
      encoded = native.b64url_encode(bytes)
      expect(encoded).to eq([bytes].pack("m0").tr("+/", "-_").delete("="))
      expect(native.b64url_decode(encoded)).to eq(bytes)
    end
  end

  it "decodes RFC 4648 section 10's examples" do
    { "" => "", "Zg" => "f", "Zm8" => "fo", "Zm9v" => "foo", "Zm9vYg" => "foob", "Zm9vYmE" => "fooba",
      "Zm9vYmFy" => "foobar" }.each do |encoded, plain|
      expect(native.b64url_decode(encoded)).to eq(plain)
    end
  end

  it "refuses padding, the standard alphabet, whitespace and other bytes" do
    ["Zg==", "Zm8=", "ab+c", "ab/c", "Zm9v\n", " Zm9v", "Zm 9v", "Zm9v\0", "Zm9v.", "Zm9vé"].each do |bad|
      expect { native.b64url_decode(bad) }.to raise_error(MailroomJWT::DecodeError), bad.inspect
    end
  end

  it "refuses a length of 1 mod 4" do
    %w[A AAAAA AAAAAAAAA].each do |bad|
      expect { native.b64url_decode(bad) }.to raise_error(MailroomJWT::DecodeError)
    end
  end

  it "accepts only the canonical spelling: trailing bits must be zero" do
    # Two characters carry 12 bits for 8: the second character's low 4 bits are trailing.
    alphabet.each_with_index do |c, i|
      if (i & 0x0f).zero?
        expect(native.b64url_decode("A#{c}").bytesize).to eq(1)
      else
        expect { native.b64url_decode("A#{c}") }.to raise_error(MailroomJWT::DecodeError), c
      end
    end
    # Three characters carry 18 bits for 16: the third character's low 2 bits are trailing.
    alphabet.each_with_index do |c, i|
      if (i & 0x03).zero?
        expect(native.b64url_decode("AA#{c}").bytesize).to eq(2)
      else
        expect { native.b64url_decode("AA#{c}") }.to raise_error(MailroomJWT::DecodeError), c
      end
    end
  end
end
