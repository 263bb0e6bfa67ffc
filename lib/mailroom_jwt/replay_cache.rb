# frozen_string_literal: true

module MailroomJWT
  # Remembers the nonces of accepted tokens for as long as the tokens are
  # valid, so that a captured token cannot be accepted a second time. Give
  # one to Authenticator.new(replay_cache:). Both caches answer:
  #
  #   claim(nonce, ttl:) -> true the first time, false while remembered
  #   release(nonce)     -> forgets it (the email could not be queued)
  #
  # and raise ReplayCache::Unavailable when they cannot answer (the endpoint
  # then answers 503 and the sender retries: nothing is lost, nothing is
  # accepted unchecked).
  module ReplayCache
    class Unavailable < Error; end

    # One process's memory: enough for a single receiver process. Bounded:
    # when max_entries unexpired nonces are held, claims raise Unavailable
    # until some expire (fail closed, never forget a live nonce). Only tokens
    # that passed every other check are remembered, so only real traffic can
    # fill it: size it above the peak rate times the validity window.
    class Memory
      DEFAULT_MAX_ENTRIES = 100_000

      attr_reader :max_entries

      def initialize(max_entries: DEFAULT_MAX_ENTRIES)
        @max_entries = Integer(max_entries)
        raise ArgumentError, "max_entries must be positive" unless @max_entries.positive?

        @entries = {} # nonce => monotonic expiry, in insertion order
        @mutex = Mutex.new
      end

      def claim(nonce, ttl:)
        now = self.class.now
        @mutex.synchronize do
          expiry = @entries[nonce]
          return false if expiry && expiry > now

          @entries.delete(nonce)
          prune(now)
          raise Unavailable, "replay cache is full (#{@max_entries} live nonces)" if @entries.size >= @max_entries

          @entries[nonce] = now + ttl
          true
        end
      end

      def release(nonce)
        @mutex.synchronize { @entries.delete(nonce) }
        nil
      end

      def size
        @mutex.synchronize { @entries.size }
      end

      def inspect
        "#<#{self.class.name} max_entries=#{@max_entries}>"
      end

      def self.now
        Process.clock_gettime(Process::CLOCK_MONOTONIC)
      end

      private

      # Drops expired entries from the oldest end; when full, looks at all.
      def prune(now)
        @entries.shift while (first = @entries.first) && first[1] <= now
        @entries.delete_if { |_, expiry| expiry <= now } if @entries.size >= @max_entries
      end
    end

    # Shared by every receiver process and machine: SET key NX EX ttl on
    # Redis, through redis-client (loaded when this class is first used).
    class Redis
      DEFAULT_PREFIX = "mailroom_jwt:nonce:"

      def initialize(redis_url: nil, redis: nil, prefix: DEFAULT_PREFIX, timeout: 1.0, pool_size: 5)
        require "redis-client"
        require "connection_pool"
        raise ArgumentError, "give redis_url: or redis:" if redis.nil? && redis_url.nil?

        @prefix = prefix
        @redis = redis || RedisClient.config(url: redis_url, timeout: timeout)
                                     .new_pool(size: pool_size, timeout: timeout)
      end

      def claim(nonce, ttl:)
        @redis.call("SET", @prefix + nonce, "1", "NX", "EX", Integer(ttl)) == "OK"
      rescue RedisClient::Error, ConnectionPool::TimeoutError => e
        raise Unavailable, "replay cache unavailable (#{e.class.name})"
      end

      def release(nonce)
        @redis.call("DEL", @prefix + nonce)
        nil
      rescue RedisClient::Error, ConnectionPool::TimeoutError => e
        raise Unavailable, "replay cache unavailable (#{e.class.name})"
      end

      def inspect
        "#<#{self.class.name} prefix=#{@prefix.inspect}>"
      end
    end
  end
end
