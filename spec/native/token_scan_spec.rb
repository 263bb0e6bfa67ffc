# frozen_string_literal: true

# The token scan checks eight bytes at a time and the rest one by one: every
# byte value, at every position, must get the same verdict either way.
RSpec.describe "the token scan" do
  let(:key) { MailroomJWT::Key.new("s" * 32) }
  let(:token) { key.encode({ "nonce" => "0123456789abcdef01234567", "iat" => 1_795_897_045, "iss" => "mailroom" }) }
  let(:base64url) { [*"A".."Z", *"a".."z", *"0".."9", "-", "_"].map(&:ord) }

  it "refuses every byte outside base64url and '.', in a word and in the tail" do
    # position 3 is inside the first 8-byte word; the last is in the tail
    positions = [0, 3, 7, 8, 21, token.bytesize - 9, token.bytesize - 1]
    (0..255).each do |byte|
      next if base64url.include?(byte) || byte == ".".ord

      positions.each do |at|
        bad = token.b
        bad.setbyte(at, byte)
        expect { key.decode(bad) }.to raise_error(MailroomJWT::DecodeError, "Invalid character in token"),
                                      "byte #{byte} at #{at}"
        expect(key.verify(bad)).to be(false)
      end
    end
  end

  it "accepts every base64url character in every position of a word (the MAC then decides)" do
    base64url.each do |byte|
      (0...16).each do |at|
        changed = token.b
        changed.setbyte(21 + at, byte)
        next if changed == token

        error = begin
          key.decode(changed)
          nil
        rescue MailroomJWT::DecodeError => e
          e
        end
        # a changed payload: its MAC fails (or its base64url is not canonical)
        expect(error).to be_a(MailroomJWT::VerificationError).or(have_attributes(message: "Invalid segment encoding"))
      end
    end
  end

  it "finds exactly two dots wherever they are" do
    expect { key.decode(token.delete(".")) }.to raise_error(MailroomJWT::DecodeError, /segments/)
    expect { key.decode("#{token}.") }.to raise_error(MailroomJWT::DecodeError, /segments/)
    expect { key.decode("a.b") }.to raise_error(MailroomJWT::DecodeError, /segments/)
    expect { key.decode("..") }.to raise_error(MailroomJWT::DecodeError, /Empty/)
    expect { key.decode("") }.to raise_error(MailroomJWT::DecodeError, /segments/)
    expect { key.decode(".#{token.split('.', 2)[1]}") }.to raise_error(MailroomJWT::DecodeError, /Empty/)
    expect(key.decode(token)[0]["iss"]).to eq("mailroom")
  end
end
