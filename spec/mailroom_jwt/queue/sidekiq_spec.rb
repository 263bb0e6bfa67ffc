# frozen_string_literal: true

require "mailroom_jwt/queue/sidekiq"
require "sidekiq/api"

RSpec.describe MailroomJWT::Queue::Sidekiq do
  let(:redis) { RedisServer.shared }
  let(:queue) { described_class.new(redis_url: redis.url) }

  before do
    redis.flushall
    # Sidekiq's own API (Sidekiq::Queue) reads the jobs back from the same Redis.
    Sidekiq.default_configuration.logger.level = Logger::WARN
    Sidekiq.configure_client { |config| config.redis = { url: redis.url } }
  end

  def jobs(queue_name)
    Sidekiq::Queue.new(queue_name).to_a.reverse
  end

  it "enqueues EmailReceiverWorker on email_receiver with the raw email, as perform_async(raw) does" do
    email = sample_email
    jid = queue.push("incoming_email", email)

    job = jobs("email_receiver").last
    expect(job.jid).to eq(jid)
    expect(job.klass).to eq("EmailReceiverWorker")
    expect(job.queue).to eq("email_receiver")
    expect(job.args).to eq([email])
    expect(job.item).to include("retry" => true, "created_at" => be_a(Numeric))
    expect(Sidekiq::Queue.all.map(&:name)).to contain_exactly("email_receiver")
  end

  it "enqueues ServiceDeskEmailReceiverWorker on service_desk_email_receiver" do
    jid = queue.push(:service_desk_email, "Subject: help\n\nピーター\n")

    job = jobs("service_desk_email_receiver").last
    expect([job.jid, job.klass, job.args]).to eq([jid, "ServiceDeskEmailReceiverWorker", ["Subject: help\n\nピーター\n"]])
  end

  it "converts bytes that are not UTF-8 before they become a JSON job argument" do
    queue.push("incoming_email", "Subject: ピーター\n".encode(Encoding::Shift_JIS).b)

    expect(jobs("email_receiver").last.args).to eq(["Subject: ピーター\n"])
  end

  it "keeps the order of pushes and merges job_options" do
    with_options = described_class.new(redis_url: redis.url, job_options: { retry: 3 })
    3.times { |i| with_options.push("incoming_email", "mail #{i}") }

    expect(jobs("email_receiver").map(&:args)).to eq([["mail 0"], ["mail 1"], ["mail 2"]])
    expect(jobs("email_receiver").map { |j| j.item["retry"] }).to eq([3, 3, 3])
  end

  it "runs Sidekiq client middleware (unlike mail_room's direct Redis push)" do
    stamp = Class.new do
      def call(_worker, job, _queue, _pool)
        job["stamped_by"] = "client middleware"
        yield
      end
    end
    config = Sidekiq::Config.new
    config.logger.level = Logger::WARN
    config.client_middleware { |chain| chain.add stamp }
    described_class.new(redis_url: redis.url, config: config).push("incoming_email", "mail")

    expect(jobs("email_receiver").last.item["stamped_by"]).to eq("client middleware")
  end

  it "raises Unavailable when a client middleware stops the job" do
    stop = Class.new { def call(*) = nil }
    config = Sidekiq::Config.new
    config.logger.level = Logger::WARN
    config.client_middleware { |chain| chain.add stop }

    expect { described_class.new(redis_url: redis.url, config: config).push("incoming_email", "mail") }
      .to raise_error(MailroomJWT::Queue::Unavailable, /middleware/)
  end

  it "raises TooLarge over max_bytes and enqueues nothing" do
    limited = described_class.new(redis_url: redis.url, max_bytes: 100)

    expect { limited.push("incoming_email", "x" * 101) }.to raise_error(MailroomJWT::Queue::TooLarge)
    expect(limited.push("incoming_email", "x" * 100)).to match(/\A\h{24}\z/)
    expect(jobs("email_receiver").map(&:args)).to eq([["x" * 100]])
  end

  it "raises UnknownMailbox for another mailbox type" do
    expect { queue.push("other", "mail") }.to raise_error(MailroomJWT::Queue::UnknownMailbox)
  end

  context "when Redis goes away" do
    let(:own) { RedisServer.new.start }

    after { own.stop(remove_dir: true) }

    it "raises Unavailable (bounded), and works again once Redis is back on the same port" do
      own_queue = described_class.new(redis_url: own.url, timeout: 0.5)
      own_queue.push("incoming_email", "before")
      own.stop

      started = Process.clock_gettime(Process::CLOCK_MONOTONIC)
      expect { own_queue.push("incoming_email", "during") }
        .to raise_error(MailroomJWT::Queue::Unavailable, /Redis is unavailable/)
      expect(Process.clock_gettime(Process::CLOCK_MONOTONIC) - started).to be < 5

      own.start
      own_queue.push("incoming_email", "after")
      reader = Sidekiq::RedisConnection.create(url: own.url, size: 1)
      args = reader.with { |c| c.call("LRANGE", "queue:email_receiver", 0, -1) }.map { |j| JSON.parse(j)["args"] }
      expect(args).to eq([["after"]]) # no persistence: "before" went with the old server, "during" was refused
    end
  end

  it "does not show the Redis URL (which may hold a password) in inspect" do
    expect(described_class.new(redis_url: "redis://:hunter2@127.0.0.1:1/0").inspect).not_to include("hunter2")
  end
end
