# frozen_string_literal: true

require "json"
require "tmpdir"

# The delivery path under faults, with real servers on 127.0.0.1 and bounded
# loops: Redis stopped mid-run, the receiver killed and restarted mid-run, a
# slow receiver, a receiver answering 500 then 200, a receiver answering 401.
# Each run prints its counts; lost (an email the sender was told was
# delivered, or gave up on without saying so, that is not in the queue) must
# be 0. An email whose delivery returns false is not lost: mail_room leaves it
# on the mail server.
RSpec.describe "delivery under faults", :integration do
  around do |example|
    Dir.mktmpdir("mailroom-jwt-faults") do |dir|
      @dir = dir
      example.run
    ensure
      @serve&.stop
      @server&.stop
    end
  end

  let(:secret_path) { write_secret_file(File.join(@dir, ".gitlab_incoming_email_secret")) }
  let(:mailboxes) do
    MailroomJWT::Mailboxes.new({ "incoming_email" => { "enabled" => true, "address" => "in+%{key}@example.com",
                                                        "secret_file" => secret_path } }, logger: nil)
  end

  # The real InternalAPI on a real Puma server, its answers counted.
  def start_receiver(queue)
    api = MailroomJWT::InternalAPI.new(authenticator: MailroomJWT::Authenticator.new(mailboxes), queue: queue,
                                       logger: nil)
    @counter = DeliveryLoadHelpers::StatusCounter.new(api)
    @server = MailroomJWT::ReceiverServer.new(@counter, port: 0, threads: 8).start
  end

  # Waits (bounded) until the block is true; false if it never became true.
  def wait_for(seconds)
    deadline = Process.clock_gettime(Process::CLOCK_MONOTONIC) + seconds
    until yield
      return false if Process.clock_gettime(Process::CLOCK_MONOTONIC) > deadline

      sleep 0.01
    end
    true
  end

  it "answers 503 while Redis is stopped; the senders retry and nothing is lost once it is back" do
    redis = RedisServer.new.start
    start_receiver(MailroomJWT::Queue::Sidekiq.new(redis_url: redis.url, timeout: 1))
    emails = load_emails(scaled(300, min: 40), "redis-down")
    options = sender_options(@server.url("incoming_email"), secret_path,
                             retry_base_delay: 0.05, retry_max_delay: 0.5, max_attempts: 20)
    fault = Thread.new do
      wait_for(60) { @counter[200] >= emails.size / 4 } or raise "no deliveries before the fault"
      # Stopped as an operator stops a persistent Redis: SHUTDOWN SAVE, so the
      # jobs already queued survive the restart (these spec servers have no
      # persistence of their own).
      begin
        redis.command("SHUTDOWN", "SAVE")
      rescue RedisServer::Error, SystemCallError, IOError
        nil # the server closes the connection as it exits
      end
      redis.stop
      down = wait_for(10) { @counter[503] >= 10 }
      redis.start
      down
    end
    results = deliver_concurrently(emails, senders: 8, options: options)
    expect(fault.value).to be(true), "the receiver never answered 503 while Redis was down"

    queued = redis.command("LRANGE", "queue:email_receiver", "0", "-1").map { |job| JSON.parse(job)["args"].first }
    counts = tally("fault, Redis stopped", emails, results, queued, @counter.counts)
    report(counts)
    expect(results.map(&:success?)).to all(be(true))
    expect(counts.retried).to be >= @counter[503]
    expect(@counter.counts.keys.sort).to eq([200, 503])
    expect(counts.to_h.slice(:accepted, :lost, :duplicates)).to eq(accepted: emails.size, lost: 0, duplicates: 0)
  ensure
    redis&.stop(remove_dir: true)
  end

  it "loses nothing when the receiver is killed (SIGKILL) and restarted mid-run" do
    spool_dir = File.join(@dir, "spool")
    @serve = DeliveryLoadHelpers::ServeProcess.new(["--secret-file", secret_path, "--spool", spool_dir],
                                                   dir: @dir, port: free_tcp_port).start
    spool = MailroomJWT::Queue::Spool.new(spool_dir, fsync: false)
    emails = load_emails(scaled(300, min: 40), "receiver-killed")
    # A retry budget of about 15 to 30 s: a restart on a loaded machine (or
    # under valgrind) takes seconds.
    options = sender_options(@serve.url, secret_path, retry_base_delay: 0.05, retry_max_delay: 2.0, max_attempts: 20,
                                                      open_timeout: 2, read_timeout: 5)
    fault = Thread.new do
      wait_for(60) { spool.pending("incoming_email").size >= emails.size / 4 } or raise "no deliveries before the kill"
      @serve.kill
      queued_at_kill = spool.pending("incoming_email").size
      sleep 0.3
      @serve.start
      queued_at_kill
    end
    results = deliver_concurrently(emails, senders: 8, options: options)
    queued_at_kill = fault.value
    @serve.stop

    queued = spool.pending("incoming_email").map { |path| File.binread(path) }
    counts = tally("fault, receiver killed", emails, results, queued, @serve.answers)
    report(counts)
    expect(queued_at_kill).to be_between(1, emails.size - 1)
    expect(results.map(&:success?)).to all(be(true))
    expect(counts.retried).to be >= 1
    expect(counts.lost).to eq(0)
    # At-least-once: an email written to the spool just before the kill, whose
    # answer never left, is sent again; the copies are counted, not hidden.
    expect(counts.duplicates).to be <= 8
  end

  it "gives up on a slow receiver after its read timeout, with bounded retries, and says so" do
    received = Thread::Queue.new
    slow = lambda do |socket, _index|
      _header, body = SenderSpecHelpers::RawServer.read_request(socket)
      received << body
      sleep 3 # longer than the sender's read timeout; the answer never comes in time
      SenderSpecHelpers::RawServer.respond(socket, 200, '{"success":true}')
    end
    with_raw_server(slow) do |server|
      emails = load_emails(4, "slow")
      options = sender_options(server.url, secret_path, read_timeout: 0.3, open_timeout: 1, max_attempts: 3,
                                                        retry_base_delay: 0.01, retry_max_delay: 0.02)
      results = deliver_concurrently(emails, senders: 4, options: options)
      counts = tally("fault, slow receiver", emails, results, [], { "timeouts" => results.sum(&:attempts) })
      report(counts)
      expect(results.map(&:success?)).to eq([false] * 4)
      expect(counts.to_h.slice(:accepted, :refused, :retried, :lost)).to eq(accepted: 0, refused: 4, retried: 8, lost: 0)
      expect(results.map(&:attempts)).to eq([3] * 4)
      expect(results.map(&:error)).to all(start_with("Net::ReadTimeout"))
      expect(server.connections).to eq(12) # 4 emails x 3 attempts, not one more
      expect(Array.new(received.size) { received.pop }.tally.values).to all(eq(3))
    end
  end

  it "retries a receiver answering 500 and delivers each email once it answers 200" do
    seen = Hash.new(0)
    lock = Mutex.new
    queued = []
    answer = lambda do |request|
      lock.synchronize do
        seen[request.body] += 1
        next [500, '{"message":"500 Internal Server Error"}'] if seen[request.body] <= 2

        queued << request.body
        [200, '{"success":true}']
      end
    end
    with_recording_server(answer) do |server|
      emails = load_emails(scaled(40, min: 8), "500-then-200")
      options = sender_options(server.url, secret_path, retry_base_delay: 0.01, retry_max_delay: 0.05, max_attempts: 4)
      results = deliver_concurrently(emails, senders: 4, options: options)
      requests = server.all_requests
      counts = tally("fault, 500 then 200", emails, results, queued, { 500 => 2 * emails.size, 200 => emails.size })
      report(counts)
      expect(results.map(&:success?)).to all(be(true))
      expect(results.map(&:attempts)).to all(eq(3))
      expect(counts.to_h.slice(:retried, :lost, :duplicates)).to eq(retried: 2 * emails.size, lost: 0, duplicates: 0)
      # Each attempt carries a fresh, valid token for the same bytes.
      key = MailroomJWT::Key.read(secret_path, logger: nil)
      tokens = requests.map { |r| r.headers["gitlab-mailroom-api-request"] }
      expect(tokens.uniq.size).to eq(requests.size)
      expect(tokens.map { |t| key.verify(t) }).to all(be(true))
    end
  end

  it "does not retry a receiver answering 401: deliver is false after one attempt" do
    start_receiver(MailroomJWT::Queue::Spool.new(File.join(@dir, "spool"), fsync: false))
    wrong_secret = write_secret_file(File.join(@dir, "wrong_secret"))
    emails = load_emails(scaled(40, min: 8), "401")
    options = sender_options(@server.url("incoming_email"), wrong_secret, retry_base_delay: 0.01, max_attempts: 5)
    results = deliver_concurrently(emails, senders: 4, options: options)
    queued = MailroomJWT::Queue::Spool.new(File.join(@dir, "spool"), fsync: false).pending("incoming_email")
    counts = tally("fault, 401", emails, results, [], @counter.counts)
    report(counts)
    expect(results.map(&:success?)).to eq([false] * emails.size)
    expect(results.map(&:status)).to all(eq(401))
    expect(results.map(&:attempts)).to all(eq(1))
    expect(@counter.counts).to eq(401 => emails.size)
    expect(queued).to eq([])
    expect(counts.to_h.slice(:accepted, :refused, :lost)).to eq(accepted: 0, refused: emails.size, lost: 0)
    expect(results.map(&:body)).to all(eq('{"message":"401 Unauthorized"}'))
  end
end
