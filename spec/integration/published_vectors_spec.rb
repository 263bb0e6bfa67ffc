# frozen_string_literal: true

# Published JWS vectors, run at the JWS level (Key#verify) and, where the
# payload is a JSON object, through Key#decode.
RSpec.describe "published JWS vectors" do
  describe "RFC 7515 Appendix A.1" do
    let(:v) { vector("rfc7515_a1_hs256.json") }
    let(:key) { MailroomJWT::Key.new([v["key_hex"]].pack("H*")) }

    it "uses the JWK's key" do
      expect([v["key_hex"]].pack("H*")).to eq(MailroomJWT::Native.b64url_decode(v["key_jwk"]["k"]))
    end

    it "verifies, and decodes with expiry checking off" do
      expect(key.verify(v["token"])).to be(true)
      payload, header = key.decode(v["token"], verify_expiration: false)
      expect(payload).to eq(JSON.parse(v["payload_json"]))
      expect(header).to eq("typ" => "JWT", "alg" => "HS256")
    end

    it "is expired when expiry is checked" do
      expect { key.decode(v["token"]) }.to raise_error(MailroomJWT::ExpiredSignature)
    end

    it "re-signing its exact header and payload bytes gives the same token" do
      input = "#{MailroomJWT::Native.b64url_encode(v['header_json'])}.#{MailroomJWT::Native.b64url_encode(v['payload_json'])}"
      resigned = "#{input}.#{MailroomJWT::Native.b64url_encode(MailroomJWT::Native.hmac(key_bytes = [v['key_hex']].pack('H*'), input))}"
      expect(key_bytes.bytesize).to eq(64)
      expect(resigned).to eq(v["token"])
    end
  end

  describe "Wycheproof json_web_signature_test.json" do
    data = JSON.parse(File.read(File.join(VECTORS_DIR, "wycheproof", "json_web_signature_test.json")))
    groups = data["testGroups"]
    hs256 = groups.find { |g| g["comment"] == "hs256" }
    base64 = groups.find { |g| g["comment"] == "base64" }

    def key_of(group)
      MailroomJWT::Key.new(MailroomJWT::Native.b64url_decode(group["private"]["k"]))
    end

    it "has the hs256 group as tcId 1-17 and the base64 group as tcId 357-377" do
      expect(hs256["tests"].map { |t| t["tcId"] }).to eq((1..17).to_a)
      expect(base64["tests"].map { |t| t["tcId"] }).to eq((357..377).to_a)
    end

    describe "the hs256 group" do
      hs256["tests"].each do |t|
        it "tcId #{t['tcId']} #{t['comment']}: #{t['result']}" do
          key = key_of(hs256)
          expect(key.verify(t["jws"])).to be(t["result"] == "valid")
          # Its payload is "foo", not a JSON object: decode refuses even a valid JWS.
          expect { key.decode(t["jws"]) }.to raise_error(MailroomJWT::DecodeError)
        end
      end

      it "tcId 16 (alg none) is refused as IncorrectAlgorithm" do
        t = hs256["tests"].find { |x| x["tcId"] == 16 }
        expect { key_of(hs256).decode_without_claims(t["jws"]) }.to raise_error(MailroomJWT::IncorrectAlgorithm)
      end
    end

    describe "the base64 group" do
      # Four labels upstream contradict RFC 7515 section 2 (base64url without
      # padding, no other characters), and the RFC decides here:
      # - 367 "invalidBase64Padding" and 370 "invalidBase64PaddingInPayload"
      #   are byte for byte the valid token of 357: there is no padding in them.
      # - 372 and 373 "valid" insert '?' into the header and the payload; '?'
      #   is not a base64url character, so these are not JWS at all.
      decided_by_rfc = { 367 => "valid", 370 => "valid", 372 => "invalid", 373 => "invalid" }

      it "has the four mislabelled cases as described" do
        by_id = base64["tests"].to_h { |t| [t["tcId"], t] }
        expect(by_id[367]["jws"]).to eq(by_id[357]["jws"])
        expect(by_id[370]["jws"]).to eq(by_id[357]["jws"])
        expect(by_id[372]["jws"]).to include("?")
        expect(by_id[373]["jws"]).to include("?")
        decided_by_rfc.each { |id, result| expect(by_id[id]["result"]).not_to eq(result) }
      end

      base64["tests"].each do |t|
        expected = decided_by_rfc.fetch(t["tcId"], t["result"])
        it "tcId #{t['tcId']} #{t['comment']}: #{expected}" do
          expect(key_of(base64).verify(t["jws"])).to be(expected == "valid")
        end
      end

      it "refuses every invalid case as DecodeError: each is malformed, none a mere bad MAC" do
        key = key_of(base64)
        invalid = base64["tests"].reject { |t| decided_by_rfc.fetch(t["tcId"], t["result"]) == "valid" }
        expect(invalid.size).to eq(14)
        invalid.each do |t|
          expect { key.decode_without_claims(t["jws"]) }.to raise_error { |e| expect(e.class).to eq(MailroomJWT::DecodeError) }
        end
      end
    end
  end
end
