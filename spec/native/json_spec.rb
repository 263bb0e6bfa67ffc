# frozen_string_literal: true

require "jwt"

# The native JSON paths: the decoder builds the payload Hash straight from
# the core's strict parser, and Key#encode writes plain payloads without
# JSON.generate. Both must be indistinguishable from the json gem.
RSpec.describe "the native JSON paths" do
  let(:secret) { "k" * 32 }
  let(:key) { MailroomJWT::Key.new(secret) }

  # Random JSON values, with the corners the parser must get right.
  module JSONSamples
    STRINGS = ["", "a", "é", "日本語", "😀", "\u0000", "\u001f", "\"", "\\", "/", "\b\f\n\r\t", "\u007f",
               "\u2028\u2029", "\uFFFD", "\u{10FFFF}", "a\"b\\c", "tab\there", "mixed 😀 é \n \"q\""].freeze
    INTEGERS = [0, 1, -1, 9, 10, 2**31, -(2**31), 2**53 + 1, 2**62, -(2**62), 2**63 - 1, -(2**63), 2**63, 2**64,
                -(2**64) - 1, 10**18 - 1, 10**18, -(10**18), 10**19, 123_456_789_012_345_678_901_234_567_890].freeze
    FLOATS = [0.0, -0.0, 0.5, -1.5, 1.0e-7, 1.0e21, 1.7976931348623157e308, 5.0e-324, 2.2250738585072014e-308,
              0.1, 0.30000000000000004, 123_456.789, -9.99e-100, 1.0 / 3].freeze

    module_function

    def string(rng)
      return STRINGS.sample(random: rng) if rng.rand < 0.4

      Array.new(rng.rand(0..12)) do
        case rng.rand(6)
        when 0 then rng.rand(0x20..0x7e).chr
        when 1 then rng.rand(0..0x1f).chr
        when 2 then [rng.rand(0x80..0x7ff)].pack("U")
        when 3 then [rng.rand(0x800..0xd7ff)].pack("U")
        when 4 then [rng.rand(0xe000..0xfffd)].pack("U")
        else [rng.rand(0x10000..0x10ffff)].pack("U")
        end
      end.join
    end

    def scalar(rng)
      case rng.rand(7)
      when 0 then string(rng)
      when 1 then INTEGERS.sample(random: rng) * (rng.rand < 0.5 ? 1 : -1)
      when 2 then rng.rand(-10**12..10**12)
      when 3 then FLOATS.sample(random: rng)
      when 4 then (rng.rand - 0.5) * (10**rng.rand(-30..30))
      when 5 then [true, false, nil].sample(random: rng)
      else rng.rand(2**70)
      end
    end

    def value(rng, depth)
      return scalar(rng) if depth >= 6 || rng.rand < 0.6

      if rng.rand < 0.5
        Array.new(rng.rand(0..4)) { value(rng, depth + 1) }
      else
        object(rng, depth + 1)
      end
    end

    def object(rng, depth = 0)
      Array.new(rng.rand(0..5)) { |i| ["#{string(rng)}#{i}", value(rng, depth)] }.to_h
    end
  end

  # JSON text with what JSON.generate never writes: whitespace everywhere,
  # escapes of any character, upper-case hex, exponents.
  def respell(value, rng)
    ws = -> { [" ", "\t", "\n", "\r", ""].sample(random: rng) * rng.rand(0..2) }
    case value
    when Hash
      "{#{ws.call}#{value.map { |k, v| "#{respell(k, rng)}#{ws.call}:#{ws.call}#{respell(v, rng)}" }
                        .join("#{ws.call},#{ws.call}")}#{ws.call}}"
    when Array then "[#{ws.call}#{value.map { |v| respell(v, rng) }.join(",#{ws.call}")}#{ws.call}]"
    when String
      body = value.each_char.map do |c|
        next c unless rng.rand < 0.3 || c.ord < 0x20 || c == '"' || c == "\\"

        units = c.encode("UTF-16BE").unpack("n*")
        units.map { |u| format(rng.rand < 0.5 ? "\\u%04x" : "\\u%04X", u) }.join
      end.join
      %("#{body}")
    when Integer then value.to_s
    when Float
      text = JSON.generate(value)
      text = format("%.17e", value) if rng.rand < 0.3 && value.finite?
      text
    else JSON.generate(value)
    end
  end

  # Same classes, same values (-0.0 is not 0.0), same encodings, names frozen.
  def expect_same(ours, theirs, path = "$")
    expect(ours.class).to eq(theirs.class), path
    case theirs
    when Hash
      expect(ours.keys).to eq(theirs.keys), path
      ours.each_key { |k| expect(k).to be_frozen.and(satisfy { |s| s.encoding == Encoding::UTF_8 }) }
      theirs.each { |k, v| expect_same(ours[k], v, "#{path}.#{k.inspect}") }
    when Array
      expect(ours.size).to eq(theirs.size), path
      theirs.each_with_index { |v, i| expect_same(ours[i], v, "#{path}[#{i}]") }
    when Float then expect([ours].pack("G")).to eq([theirs].pack("G")), "#{path}: #{ours} vs #{theirs}"
    when String
      expect(ours).to eq(theirs), path
      expect(ours.encoding).to eq(Encoding::UTF_8), path
      expect(ours).not_to be_frozen, path
    else expect(ours).to eq(theirs), path
    end
  end

  describe "MailroomJWT::Native.json_parse (the decoder's objects)" do
    it "makes what JSON.parse makes, for many random objects" do
      rng = Random.new(RSpec.configuration.seed)
      600.times do
        text = JSON.generate(JSONSamples.object(rng))
        expect_same(MailroomJWT::Native.json_parse(text), JSON.parse(text))
      end
    end

    it "makes what JSON.parse makes of the same objects spelled with whitespace and escapes" do
      rng = Random.new(RSpec.configuration.seed + 1)
      400.times do
        text = respell(JSONSamples.object(rng), rng)
        expect_same(MailroomJWT::Native.json_parse(text), JSON.parse(text))
      end
    end

    it "reads numbers as JSON.parse does: integers of any size, floats correctly rounded" do
      numbers = %w[0 -0 1 -1 123456789012345678 1234567890123456789 -1234567890123456789 18446744073709551615
                   18446744073709551616 -9223372036854775808 -9223372036854775809 99999999999999999999999999999
                   0.0 -0.0 1.5 -1.5 1e2 1E2 1e+2 1e-2 1.25e-3 0.1 0.30000000000000004 2.2250738585072011e-308
                   4.9e-324 2.4703282292062328e-324 1.7976931348623157e308 1.7976931348623159e308 1e400 -1e400
                   1e-400 -1e-400 123456789012345678901234567890e-10 0.000000000000000000000000000001
                   9007199254740993 9007199254740993.0 3.141592653589793238462643383279]
      numbers << "1#{'0' * 400}" << "0.#{'0' * 300}1" << "1.#{'1' * 200}e5"
      numbers.each do |n|
        text = %({"n":#{n},"a":[#{n}]})
        expect_same(MailroomJWT::Native.json_parse(text), JSON.parse(text))
      end
    end

    it "unescapes every escape, surrogate pairs included" do
      text = '{"s":"\\" \\\\ \\/ \\b \\f \\n \\r \\t \\u0000 \\u00e9 \\u00E9 \\u20ac \\ud83d\\ude00 \\uD83D\\uDE00 \\uffff"}'
      expect_same(MailroomJWT::Native.json_parse(text), JSON.parse(text))
      expect(MailroomJWT::Native.json_parse(text)["s"]).to eq("\" \\ / \b \f \n \r \t \u0000 é é € 😀 😀 \uffff")
    end

    it "refuses what the strict check refuses, with the same DecodeError" do
      ['{"a":1,}', '{"a":01}', '{"a":NaN}', '{"a":Infinity}', '{"a":1}/*c*/', "{'a':1}", '{"a":"\\ud800"}',
       "{\"a\":\"\xFF\"}", '{"a":"\\x"}', "{\"a\":\"\t\"}", '[1]', '{"a":1} 2', "#{'{"a":' * 33}1#{'}' * 33}"]
        .each do |text|
        expect { MailroomJWT::Native.json_parse(text) }.to raise_error(MailroomJWT::DecodeError), text
      end
    end

    it "nests up to the depth cap of 32 containers" do
      text = "#{'{"a":' * 32}1#{'}' * 32}"
      expect(MailroomJWT::Native.json_parse(text).dig(*Array.new(32, "a"))).to eq(1)
    end

    it "reports a repeated name at any depth" do
      ['{"a":1,"a":2}', '{"a":1,"\\u0061":2}', '{"x":{"a":1,"a":2}}', '{"x":[{"a":1,"a":1}]}'].each do |text|
        expect { MailroomJWT::Native.json_parse(text) }.to raise_error(MailroomJWT::InvalidPayload), text
      end
    end
  end

  describe "Key#decode with the native parser" do
    def raw_token(header_json, payload_json, with: secret)
      input = "#{b64url(header_json)}.#{b64url(payload_json)}"
      "#{input}.#{b64url(OpenSSL::HMAC.digest('SHA256', with, input))}"
    end

    it "returns the payload JSON.parse makes and the header, for random payloads" do
      rng = Random.new(RSpec.configuration.seed + 2)
      200.times do
        text = respell(JSONSamples.object(rng), rng)
        payload, header = key.decode_without_claims(raw_token('{"alg":"HS256"}', text))
        expect_same(payload, JSON.parse(text))
        expect(header).to eq("alg" => "HS256")
      end
    end

    it "reads a header other than the canonical one as JSON.parse does" do
      header_json = '{ "typ" : "JWT", "alg":"HS256", "kid":"k\\u00e9", "x":[1,2.5,{"y":null}] }'
      _payload, header = key.decode_without_claims(raw_token(header_json, '{"a":1}'))
      expect_same(header, JSON.parse(header_json))
    end

    it "refuses a repeated name nested in the payload or the header" do
      expect { key.decode(raw_token('{"alg":"HS256"}', '{"x":{"a":1,"a":2}}')) }
        .to raise_error(MailroomJWT::InvalidPayload, "duplicate claim names in payload")
      expect { key.decode(raw_token('{"alg":"HS256","x":{"a":1,"a":2}}', '{"a":1}')) }
        .to raise_error(MailroomJWT::DecodeError, "duplicate header names")
    end

    it "reads no payload of a token whose MAC fails" do
      forged = raw_token('{"alg":"HS256"}', '{"a":1,"a":2}', with: "another key of thirty-two bytes!")
      expect { key.decode(forged) }.to raise_error(MailroomJWT::VerificationError)
      expect { key.decode_without_claims(forged, verify_signature: false) }
        .to raise_error(MailroomJWT::InvalidPayload)
    end

    it "keeps the header's alg the frozen constant for the canonical header" do
      _payload, header = key.decode(key.encode({ "a" => 1 }))
      expect(header).to eq("alg" => "HS256")
      expect(header["alg"]).to be_frozen
    end

    it "allocates at most 12 Ruby objects for mail_room's three-claim payload" do
      token = key.encode({ nonce: "0123456789abcdef01234567", iat: Time.now.to_i, iss: "gitlab-mailroom" })
      iat_after = Time.now - 300
      key.decode(token, issuer: "gitlab-mailroom", iat_after: iat_after)
      before = GC.stat(:total_allocated_objects)
      100.times { key.decode(token, issuer: "gitlab-mailroom", iat_after: iat_after) }
      expect((GC.stat(:total_allocated_objects) - before) / 100.0).to be <= 12
    end
  end

  describe "MailroomJWT::Native.json_generate (the encoder's JSON)" do
    # Strings, Integers that are not Bignums, true, false, nil, Arrays, and
    # Hashes whose names are all Strings or all Symbols.
    def plain(value, rng)
      case value
      when Hash
        symbols = rng.rand < 0.5
        value.to_h { |k, v| [symbols ? k.to_sym : k, plain(v, rng)] }
      when Array then value.map { |v| plain(v, rng) }
      when Float then rng.rand(-10**6..10**6)
      when Integer then value.bit_length < 62 ? value : -value.bit_length
      else value
      end
    end

    it "writes what JSON.generate writes, byte for byte, for plain payloads" do
      rng = Random.new(RSpec.configuration.seed + 3)
      500.times do
        payload = plain(JSONSamples.object(rng), rng)
        ours = MailroomJWT::Native.json_generate(payload)
        expect(ours).to eq(JSON.generate(payload)), payload.inspect
        expect(ours.encoding).to eq(Encoding::UTF_8)
      end
    end

    it "writes mail_room's payload and every escaped character as JSON.generate" do
      payloads = [
        { nonce: "0123456789abcdef01234567", iat: 1_795_897_045, iss: "mailroom" },
        { "s" => (0..0x7f).map(&:chr).join, "u" => "é😀\u2028", "n" => [-(2**62), 2**62 - 1, 0, true, false, nil] },
        { "nested" => { "a" => [{ "b" => {} }, []] }, "" => "" }
      ]
      payloads.each { |p| expect(MailroomJWT::Native.json_generate(p)).to eq(JSON.generate(p)) }
    end

    it "leaves to the general path what it does not write itself" do
      sub = Class.new(String)
      sub_hash = Class.new(Hash)
      [{ "f" => 1.5 }, { "b" => 2**64 }, { "s" => :sym }, { a: 1, "b" => 2 }, { 1 => 2 }, { "s" => sub.new("x") },
       { "x" => "\xFF".b }, { "x" => "\xFF" }, { "x" => "é".encode("ISO-8859-1") }, { "t" => Time.at(0) },
       { "iat" => 1.5 }, { "d" => JSON.parse("#{'[' * 40}#{']' * 40}") }, sub_hash.new, { sub.new("k") => 1 }]
        .each { |p| expect(MailroomJWT::Native.json_generate(p)).to be_nil, p.inspect }
    end
  end

  describe "Key#encode with the native writer" do
    it "makes the very token ruby-jwt makes, for random plain payloads and for the general path" do
      rng = Random.new(RSpec.configuration.seed + 4)
      300.times do
        payload = JSONSamples.object(rng).reject { |_, v| v.is_a?(Float) && !v.finite? }
        payload[:iat] = rng.rand(2**40) if rng.rand < 0.5
        expect(key.encode(payload)).to eq(JWT.encode(payload, secret, "HS256"))
      end
    end

    it "keeps the encode rules for payloads the native writer leaves alone" do
      expect(key.encode({ "iat" => 1.5 })).to eq(JWT.encode({ "iat" => 1.5 }, secret, "HS256"))
      expect { key.encode({ iat: Float::NAN }) }.to raise_error(MailroomJWT::EncodeError)
      expect { key.encode({ "exp" => "soon" }) }.to raise_error(MailroomJWT::EncodeError)
      expect { key.encode({ iss: "a", "iss" => "b" }) }.to raise_error(MailroomJWT::EncodeError)
      expect { key.encode({ 1 => 2 }) }.to raise_error(MailroomJWT::EncodeError)
      expect { key.encode({ "pad" => "x" * 20_000 }) }.to raise_error(MailroomJWT::EncodeError, /longer than/)
      expect { key.encode({ "pad" => "x" * 12_300 }) }.to raise_error(MailroomJWT::EncodeError, /longer than/)
    end

    it "allocates one object, the token, for mail_room's payload" do
      payload = { nonce: "0123456789abcdef01234567", iat: 1_795_897_045, iss: "mailroom" }
      key.encode(payload)
      before = GC.stat(:total_allocated_objects)
      100.times { key.encode(payload) }
      expect((GC.stat(:total_allocated_objects) - before) / 100.0).to be <= 4
    end
  end
end
