# frozen_string_literal: true

require "json"
require "logger"
require "net/http"
require "securerandom"
require "stringio"
require "tmpdir"
require "fileutils"

module MailroomJWT
  # `mailroom-jwt demo`: both ends of the webhook on this machine, nothing
  # to set up. It makes a temporary secret, starts the receiver (the
  # InternalAPI with a spool queue) on a free loopback port, then posts one
  # sample email three times: with a valid token as mail_room makes it (200,
  # queued), with a tampered token (401) and with a stale one (401), and
  # shows what happened to each and where the accepted email lies. It removes
  # everything it made unless keep: true.
  #
  # #run returns true when each delivery ended as it should.
  class Demo
    MAILBOX = "incoming_email"
    ISSUER = "gitlab-mailroom"
    HEADER = "Gitlab-Mailroom-Api-Request"
    STALE_SECONDS = 600

    SAMPLE_EMAIL = <<~MAIL.gsub("\n", "\r\n").freeze
      From: Ada Lovelace <ada@example.com>
      To: incoming+gitlab-org-gitlab-123-issue-@example.com
      Subject: =?UTF-8?B?UmU6IMOcYmVyIGRpZSBBbmFseXRpY2FsIEVuZ2luZQ==?=
      Message-ID: <demo-1@example.com>
      Date: Sat, 28 Nov 2026 12:00:00 +0000
      MIME-Version: 1.0
      Content-Type: text/plain; charset=UTF-8
      Content-Transfer-Encoding: 8bit

      This comment arrived by email: the receiver checked its token, then queued it.
    MAIL

    Outcome = Struct.new(:name, :status, :body, :reason, :expected, keyword_init: true) do
      def as_expected?
        status == expected
      end
    end

    attr_reader :outcomes

    def initialize(out: $stdout, keep: false, server: "puma")
      @out = out
      @keep = keep
      @server_name = server
      @outcomes = []
    end

    def run
      dir = Dir.mktmpdir("mailroom-jwt-demo-")
      receiver_log = StringIO.new
      server = nil
      begin
        secret_path = make_secret(dir)
        spool = Queue::Spool.new(File.join(dir, "spool"))
        server = start_receiver(secret_path, spool, Logger.new(receiver_log, formatter: ->(*, msg) { "#{msg}\n" }))
        url = server.url(MAILBOX)
        deliver_valid(url, secret_path, receiver_log)
        accepted = spool.pending(MAILBOX)
        show_spool(accepted)
        deliver_tampered(url, secret_path, receiver_log)
        deliver_stale(url, secret_path, receiver_log)
        summary(spool)
      ensure
        server&.stop
        finish(dir)
      end
    end

    private

    def say(text = "")
      @out.puts(text)
    end

    def make_secret(dir)
      path = File.join(dir, ".gitlab_incoming_email_secret")
      key = Key.generate
      key.write(path)
      say("mailroom-jwt demo: both ends of GitLab's incoming-email webhook, on this machine only")
      say
      say("1. A new secret for the #{MAILBOX} mailbox, shared by sender and receiver")
      say("   #{path} (mode 0600, fingerprint #{key.fingerprint})")
      path
    end

    def start_receiver(secret_path, spool, logger)
      mailboxes = Mailboxes.new(MAILBOX => { "enabled" => true, "address" => "incoming+%{key}@example.com",
                                             "secret_file" => secret_path }, logger: logger)
      api = InternalAPI.new(authenticator: Authenticator.new(mailboxes), queue: spool, logger: logger)
      server = ReceiverServer.new(api, host: "127.0.0.1", port: 0, server: @server_name).start
      say("2. The receiver, GitLab's internal API endpoint, on a real #{@server_name} server:")
      say("   POST #{server.url(MAILBOX)}")
      say("   accepted emails go to the spool queue #{spool.dir}")
      server
    end

    def deliver_valid(url, secret_path, log)
      say("3. The sample email, posted as mail_room posts it (MailroomJWT::Postback, a fresh token)")
      postback = Postback.new(delivery_url: url, content_type: "text/plain", jwt_auth_header: HEADER,
                              jwt_issuer: ISSUER, jwt_secret_path: secret_path, max_attempts: 1,
                              logger: Logger.new(File::NULL))
      result = postback.deliver_with_result(SAMPLE_EMAIL)
      postback.close
      record("valid token", result.status || 0, result.body || result.error, 200, log)
    end

    def show_spool(accepted)
      return say("   ...but the spool is empty") if accepted.empty?

      say("   the email now lies in #{accepted.first}")
      say("   (#{File.size(accepted.first)} bytes; first line: #{File.foreach(accepted.first).first.chomp})")
    end

    def deliver_tampered(url, secret_path, log)
      say("4. The same email with a tampered token: a valid token whose claims were changed after signing")
      token = Token.new(header: HEADER, secret_path: secret_path, issuer: ISSUER).token
      head, payload, mac = token.split(".")
      claims = JSON.parse(Native.b64url_decode(payload))
      claims["iat"] += 3600 # re-dated, as one would re-date a captured token
      forged = [head, Native.b64url_encode(JSON.generate(claims)), mac].join(".")
      status, body = post(url, forged)
      record("tampered token", status, body, 401, log)
    end

    def deliver_stale(url, secret_path, log)
      say("5. The same email with a stale token: correctly signed, but #{STALE_SECONDS / 60} minutes old " \
          "(GitLab accepts #{Authenticator::EXPIRATION / 60})")
      now = Claims.now
      stale = Key.read(secret_path).encode({ "nonce" => SecureRandom.hex(12), "iat" => now - STALE_SECONDS,
                                             "iss" => ISSUER })
      status, body = post(url, stale)
      record("stale token", status, body, 401, log)
    end

    def post(url, token)
      uri = URI(url)
      Net::HTTP.start(uri.host, uri.port, open_timeout: 5, read_timeout: 10) do |http|
        response = http.post(uri.path, SAMPLE_EMAIL, "Content-Type" => "text/plain", HEADER => token)
        [response.code.to_i, response.body]
      end
    end

    def record(name, status, body, expected, log)
      reason = last_reason(log)
      outcome = Outcome.new(name: name, status: status, body: body.to_s.strip, reason: reason, expected: expected)
      @outcomes << outcome
      verdict = if status == 200 then "accepted and queued"
                elsif status == 401 then "refused"
                else "unexpected"
                end
      say("   -> HTTP #{status} #{outcome.body}: #{verdict}#{" (the receiver logged: #{reason})" if reason}")
      say("      NOT AS EXPECTED: wanted HTTP #{expected}") unless outcome.as_expected?
    end

    # The reason the receiver logged for the last request, if any.
    def last_reason(log)
      line = log.string.lines.last
      return nil unless line

      JSON.parse(line)["reason"]
    rescue JSON::ParserError
      nil
    end

    def summary(spool)
      queued = spool.pending(MAILBOX).size
      ok = @outcomes.all?(&:as_expected?) && queued == 1
      say
      if ok
        say("Result: the valid delivery was accepted and queued; the tampered and the stale token got 401; " \
            "the spool holds exactly 1 email.")
      else
        say("Result: SOMETHING IS WRONG: #{@outcomes.map { |o| "#{o.name} -> #{o.status}" }.join(', ')}, " \
            "#{queued} email(s) queued")
      end
      ok
    end

    def finish(dir)
      if @keep
        say("Kept #{dir} (remove it when done).")
      else
        FileUtils.remove_entry_secure(dir)
        say("Removed #{dir} and everything in it.")
      end
    end
  end
end
