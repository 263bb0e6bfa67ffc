# frozen_string_literal: true

require "tmpdir"

# One Key shared by many threads, and by Ractors: the extension declares
# itself Ractor-safe (rb_ext_ractor_safe), and a Key is frozen and shareable.
RSpec.describe MailroomJWT::Key, "shared between threads and Ractors" do
  let(:key) { described_class.new("concurrency spec key: 32 bytes!!") }
  let(:wrong_key) { described_class.new("a different key, also 32 bytes!!") }

  it "signs and verifies 100,000 tokens in each of 8 threads, every result correct" do
    per_thread = scaled(100_000)
    failures = Queue.new
    threads = Array.new(8) do |t|
      Thread.new do
        checked = 0
        per_thread.times do |i|
          payload = { "thread" => t, "n" => i, "nonce" => format("%024x", (t << 40) | i) }
          token = key.encode(payload)
          failures << [t, i, :verify] unless key.verify(token)
          decoded, header = key.decode(token)
          failures << [t, i, :decode] unless decoded == payload && header == { "alg" => "HS256" }
          if (i % 97).zero?
            failures << [t, i, :wrong_key] if wrong_key.verify(token)
            failures << [t, i, :tampered] if key.verify(token.sub(/.\z/) { |c| c == "A" ? "Q" : "A" })
          end
          checked += 1
        end
        checked
      end
    end
    expect(threads.map(&:value)).to eq([per_thread] * 8)
    expect(failures.size).to eq(0), "wrong results: #{Array.new([failures.size, 10].min) { failures.pop }.inspect}"
  end

  it "reads secret files and compares keys from many threads at once" do
    Dir.mktmpdir("mailroom-jwt-threads") do |dir|
      path = File.join(dir, "secret")
      key.write(path)
      results = Array.new(8) do
        Thread.new { Array.new(scaled(500)) { described_class.read(path, logger: nil) == key }.all? }
      end.map(&:value)
      expect(results).to eq([true] * 8)
    end
  end

  describe "in Ractors" do
    around do |example|
      experimental = Warning[:experimental]
      Warning[:experimental] = false # "Ractor is experimental" on every Ractor.new
      example.run
    ensure
      Warning[:experimental] = experimental
    end

    it "is shareable" do
      expect(Ractor.shareable?(key)).to be(true)
      expect(Ractor.shareable?(described_class.generate)).to be(true)
    end

    it "signs, verifies and decodes with a Key passed to several Ractors running at once" do
      per_ractor = scaled(5000)
      ractors = Array.new(4) do |r|
        Ractor.new(key, wrong_key, r, per_ractor) do |k, wrong, id, n|
          bad = 0
          n.times do |i|
            payload = { "ractor" => id, "n" => i }
            token = k.encode(payload)
            bad += 1 unless k.verify(token) && !wrong.verify(token) && k.decode(token).first == payload
          end
          [id, n, bad]
        end
      end
      expect(ractors.map(&:take).sort).to eq(Array.new(4) { |r| [r, per_ractor, 0] })
    end

    it "builds keys, uses the ruby-jwt call shapes and raises the gem's errors inside a Ractor" do
      result = Ractor.new do
        k = MailroomJWT::Key.new("made inside a Ractor, 32 bytes..")
        token = MailroomJWT.encode({ "a" => 1 }, "made inside a Ractor, 32 bytes..")
        errors = ["x.y", "#{token}x"].map do |bad|
          MailroomJWT.decode(bad, k)
        rescue MailroomJWT::Error => e
          e.class
        end
        [k.verify(token), MailroomJWT.decode(token, k).first, MailroomJWT.decode(token, nil, false).first,
         MailroomJWT::Key.generate.verify(token), errors]
      end.take
      expect(result).to eq([true, { "a" => 1 }, { "a" => 1 }, false,
                            [MailroomJWT::DecodeError, MailroomJWT::VerificationError]])
    end

    it "reads secret files inside a Ractor, and raises SecretFileError for a missing one" do
      Dir.mktmpdir("mailroom-jwt-ractor") do |dir|
        path = File.join(dir, "secret")
        key.write(path)
        result = Ractor.new(path) do |p|
          missing = begin
            MailroomJWT::Key.read("#{p}.missing")
          rescue MailroomJWT::SecretFileError => e
            e.class
          end
          [MailroomJWT::Key.read(p).fingerprint, MailroomJWT::Key.read(p, logger: nil).fingerprint, missing]
        end.take
        expect(result).to eq([key.fingerprint, key.fingerprint, MailroomJWT::SecretFileError])
      end
    end
  end
end
