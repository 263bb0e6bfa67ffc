# frozen_string_literal: true

# The native HMAC-SHA256 core against published vectors. Native.hmac accepts
# keys of any length (RFC 4231's keys are shorter than a JWS key may be).
RSpec.describe "native HMAC-SHA256" do
  def unhex(hex)
    [hex].pack("H*")
  end

  describe "RFC 4231 section 4" do
    vectors = JSON.parse(File.read(File.join(VECTORS_DIR, "rfc4231_hmac_sha256.json")))["cases"]

    it "has the seven cases" do
      expect(vectors.map { |c| c["case"] }).to eq((1..7).to_a)
    end

    vectors.each do |c|
      it "case #{c['case']}" do
        mac = MailroomJWT::Native.hmac(unhex(c["key_hex"]), unhex(c["data_hex"]))
        n = c["truncate_bytes"]
        expect(mac.bytesize).to eq(32)
        expect(mac.byteslice(0, n)).to eq(unhex(c["hmac_sha256_hex"]).byteslice(0, n))
      end
    end

    it "keys longer than the 64-byte block (cases 6 and 7) sign like a Key of the same bytes" do
      long = vectors.select { |c| unhex(c["key_hex"]).bytesize > 64 }
      expect(long.map { |c| c["case"] }).to eq([6, 7])
      long.each do |c|
        key = MailroomJWT::Key.new(unhex(c["key_hex"]))
        token = key.encode("case" => c["case"])
        input, sig = token.rpartition(".").values_at(0, 2)
        expect(MailroomJWT::Native.b64url_decode(sig)).to eq(MailroomJWT::Native.hmac(unhex(c["key_hex"]), input))
      end
    end
  end

  describe "Wycheproof hmac_sha256_test.json" do
    data = JSON.parse(File.read(File.join(VECTORS_DIR, "wycheproof", "hmac_sha256_test.json")))
    tests = data["testGroups"].flat_map { |g| g["tests"].map { |t| t.merge("tagSize" => g["tagSize"]) } }

    it "has all #{data['numberOfTests']} tests" do
      expect(tests.size).to eq(data["numberOfTests"])
      expect(tests.map { |t| t["result"] }.uniq.sort).to eq(%w[invalid valid])
    end

    it "verifies every valid tag and rejects every invalid one, comparing in constant time" do
      outcomes = tests.map do |t|
        mac = MailroomJWT::Native.hmac(unhex(t["key"]), unhex(t["msg"]))
        tag = unhex(t["tag"])
        [t["tcId"], t["result"], MailroomJWT::Native.mac_equal?(mac.byteslice(0, t["tagSize"] / 8), tag)]
      end
      wrong = outcomes.reject { |_id, result, ok| ok == (result == "valid") }
      expect(wrong).to eq([])
    end
  end

  describe "Native.mac_equal?" do
    it "is false for a length mismatch and for any differing byte" do
      a = Random.new(1).bytes(32)
      expect(MailroomJWT::Native.mac_equal?(a, a.dup)).to be(true)
      expect(MailroomJWT::Native.mac_equal?(a, a.byteslice(0, 31))).to be(false)
      32.times do |i|
        b = a.dup
        b.setbyte(i, b.getbyte(i) ^ 1)
        expect(MailroomJWT::Native.mac_equal?(a, b)).to be(false)
      end
    end
  end
end
