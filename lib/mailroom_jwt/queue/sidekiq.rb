# frozen_string_literal: true

require "sidekiq"

module MailroomJWT
  module Queue
    # Pushes each email as a job for GitLab's Sidekiq fleet, through the real
    # Sidekiq client (client middleware runs), exactly as GitLab's own
    # EmailReceiverWorker.perform_async(raw) / ServiceDeskEmailReceiverWorker
    # .perform_async(raw) would: class and queue per mailbox type
    # (Queue::WORKERS), args [raw_email].
    #
    #   queue = MailroomJWT::Queue::Sidekiq.new(redis_url: "redis://127.0.0.1:6379/0")
    #   queue.push("incoming_email", raw) # => jid
    #
    # max_bytes: emails larger than this raise TooLarge (nil: no limit).
    # job_options: merged into each job (e.g. { "retry" => 3 }).
    # config: a Sidekiq::Config whose client middleware runs (default: the
    # process's Sidekiq.default_configuration); the jobs always go to
    # redis_url through this queue's own connection pool.
    # Follows the Queue interface (see MailroomJWT::Queue): Redis errors and
    # timeouts raise Unavailable.
    class Sidekiq
      attr_reader :max_bytes

      def initialize(redis_url:, max_bytes: nil, job_options: {}, config: nil, pool_size: 5, timeout: 2)
        raise ArgumentError, "max_bytes must be a positive Integer or nil" unless max_bytes.nil? || (max_bytes.is_a?(Integer) && max_bytes.positive?)

        @max_bytes = max_bytes
        @job_options = job_options.transform_keys(&:to_s).freeze
        @redis_url = redis_url
        @pool = ::Sidekiq::RedisConnection.create(url: redis_url, size: pool_size, pool_timeout: timeout,
                                                  timeout: timeout)
        @client = ::Sidekiq::Client.new(pool: @pool, config: config || ::Sidekiq.default_configuration)
      end

      def push(mailbox_type, raw_email)
        worker = WORKERS.fetch(Queue.mailbox_type!(mailbox_type))
        Queue.check_size!(raw_email, @max_bytes)
        # Job arguments are JSON: bytes that are not UTF-8 are converted first.
        raw_email = UTF8.encode(raw_email) unless raw_email.encoding == Encoding::UTF_8 && raw_email.valid_encoding?

        jid = @client.push(@job_options.merge(worker).merge("args" => [raw_email]))
        raise Unavailable, "a Sidekiq client middleware stopped the job" if jid.nil?

        jid
      rescue RedisClient::Error, ::ConnectionPool::TimeoutError, Errno::ECONNREFUSED, IOError => e
        raise Unavailable, "Sidekiq's Redis is unavailable (#{e.class.name})"
      end

      def inspect
        "#<#{self.class.name} max_bytes=#{@max_bytes.inspect}>"
      end
    end
  end
end
