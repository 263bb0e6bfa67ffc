# frozen_string_literal: true

RSpec.describe MailroomJWT::ReplayCache do
  it "puts Unavailable under MailroomJWT::Error" do
    expect(described_class::Unavailable.superclass).to be(MailroomJWT::Error)
  end

  describe described_class::Memory do
    let(:cache) { described_class.new(max_entries: 3) }

    it "claims a nonce once while it lives" do
      expect(cache.claim("n1", ttl: 60)).to be(true)
      expect(cache.claim("n1", ttl: 60)).to be(false)
      expect(cache.claim("n2", ttl: 60)).to be(true)
    end

    it "forgets a nonce after its ttl" do
      clock = 100.0
      allow(described_class).to receive(:now) { clock }
      cache.claim("n1", ttl: 5)
      clock += 4.9
      expect(cache.claim("n1", ttl: 5)).to be(false)
      clock += 0.2
      expect(cache.claim("n1", ttl: 5)).to be(true)
    end

    it "forgets a released nonce" do
      cache.claim("n1", ttl: 60)
      cache.release("n1")

      expect(cache.claim("n1", ttl: 60)).to be(true)
    end

    it "is bounded: when full of live nonces it refuses (Unavailable) rather than forget one" do
      clock = 0.0
      allow(described_class).to receive(:now) { clock }
      %w[a b c].each { |n| cache.claim(n, ttl: 10) }

      expect { cache.claim("d", ttl: 10) }.to raise_error(MailroomJWT::ReplayCache::Unavailable, /full/)
      expect(cache.claim("a", ttl: 10)).to be(false)
      clock = 11.0
      expect(cache.claim("d", ttl: 10)).to be(true)
      expect(cache.size).to eq(1)
    end

    it "sweeps expired entries that are not the oldest" do
      clock = 0.0
      allow(described_class).to receive(:now) { clock }
      cache.claim("long", ttl: 100)
      cache.claim("short1", ttl: 1)
      cache.claim("short2", ttl: 1)
      clock = 2.0

      expect(cache.claim("new", ttl: 10)).to be(true)
      expect(cache.size).to eq(2)
    end

    it "claims each nonce exactly once across threads" do
      big = described_class.new
      wins = Array.new(8) { Thread.new { Array.new(100) { |i| big.claim("n#{i}", ttl: 60) }.count(true) } }.sum(&:value)

      expect(wins).to eq(100)
    end
  end

  describe described_class::Redis do
    let(:redis) { RedisServer.shared }
    let(:cache) { described_class.new(redis_url: redis.url) }

    before { redis.flushall }

    it "claims with SET NX EX: once, shared by every instance (every process)" do
      other = described_class.new(redis_url: redis.url)

      expect(cache.claim("abc", ttl: 30)).to be(true)
      expect(other.claim("abc", ttl: 30)).to be(false)
      expect(redis.command("TTL", "mailroom_jwt:nonce:abc")).to be_between(29, 30)
    end

    it "lets the nonce expire with the token" do
      cache.claim("short", ttl: 1)
      deadline = Process.clock_gettime(Process::CLOCK_MONOTONIC) + 5
      sleep 0.1 until redis.command("EXISTS", "mailroom_jwt:nonce:short").zero? ||
                      Process.clock_gettime(Process::CLOCK_MONOTONIC) > deadline

      expect(cache.claim("short", ttl: 1)).to be(true)
    end

    it "forgets a released nonce" do
      cache.claim("abc", ttl: 30)
      cache.release("abc")

      expect(cache.claim("abc", ttl: 30)).to be(true)
    end

    it "raises Unavailable when Redis is down, and works again when it is back" do
      own = RedisServer.new.start
      own_cache = described_class.new(redis_url: own.url, timeout: 0.5)
      own.stop

      expect { own_cache.claim("abc", ttl: 30) }.to raise_error(MailroomJWT::ReplayCache::Unavailable)
      own.start
      expect(own_cache.claim("abc", ttl: 30)).to be(true)
    ensure
      own&.stop(remove_dir: true)
    end

    it "needs redis_url: or redis:" do
      expect { described_class.new }.to raise_error(ArgumentError)
    end
  end
end
