# frozen_string_literal: true

require "json"
require "tmpdir"

# The delivery path under load: many concurrent senders (MailroomJWT::Postback,
# as mail_room's postback delivery) post distinct emails to the real
# `mailroom-jwt serve` on 127.0.0.1, queueing to its spool and to Sidekiq on
# a real redis-server. Afterwards every email is in the queue exactly once,
# byte for byte. Each run prints its counts (sent, accepted, retried, lost).
RSpec.describe "delivery under load", :integration do
  around do |example|
    Dir.mktmpdir("mailroom-jwt-load") do |dir|
      @dir = dir
      example.run
    ensure
      @serve&.stop
    end
  end

  let(:secret_path) { write_secret_file(File.join(@dir, ".gitlab_incoming_email_secret")) }
  let(:emails) { load_emails(scaled(1000, min: 20), "load") }
  let(:senders) { 16 }
  let(:options) { sender_options(@serve.url, secret_path, retry_base_delay: 0.05, retry_max_delay: 0.5, max_attempts: 8) }

  def start_serve(*args)
    @serve = DeliveryLoadHelpers::ServeProcess.new(["--secret-file", secret_path, *args], dir: @dir, port: free_tcp_port).start
  end

  it "queues every email exactly once in the spool" do
    spool_dir = File.join(@dir, "spool")
    start_serve("--spool", spool_dir)
    results = deliver_concurrently(emails, senders: senders, options: options)
    @serve.stop

    spool = MailroomJWT::Queue::Spool.new(spool_dir, fsync: false)
    queued = spool.pending("incoming_email").map { |path| File.binread(path) }
    counts = tally("load, spool", emails, results, queued, @serve.answers)
    report(counts)
    expect(results.map(&:success?)).to all(be(true))
    expect(counts.to_h.slice(:accepted, :lost, :duplicates)).to eq(accepted: emails.size, lost: 0, duplicates: 0)
    expect(queued.size).to eq(emails.size)
    expect(queued.map(&:b).sort).to eq(emails.map(&:b).sort)
    expect(counts.answers).to eq(200 => counts.attempts)
  end

  it "queues every email exactly once as a Sidekiq job" do
    redis = RedisServer.new.start
    start_serve("--redis", redis.url)
    results = deliver_concurrently(emails, senders: senders, options: options)
    @serve.stop

    jobs = redis.command("LRANGE", "queue:email_receiver", "0", "-1").map { |job| JSON.parse(job) }
    expect(jobs.map { |job| job["class"] }.uniq).to eq(["EmailReceiverWorker"])
    queued = jobs.map { |job| job["args"].first }
    counts = tally("load, sidekiq", emails, results, queued, @serve.answers)
    report(counts)
    expect(results.map(&:success?)).to all(be(true))
    expect(counts.to_h.slice(:accepted, :lost, :duplicates)).to eq(accepted: emails.size, lost: 0, duplicates: 0)
    expect(queued.map(&:b).sort).to eq(emails.map(&:b).sort)
    expect(jobs.map { |job| job["jid"] }.uniq.size).to eq(emails.size)
  ensure
    redis&.stop(remove_dir: true)
  end
end
