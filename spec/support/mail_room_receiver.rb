# frozen_string_literal: true

require "tmpdir"
require "fileutils"
require "securerandom"

# Helpers for the receiver (GitLab side) specs: secret files, tokens made
# the way mail_room makes them, and a real HTTP server on 127.0.0.1.
module ReceiverHelpers
  ISSUER = "gitlab-mailroom"

  # A fresh temporary directory per example (removed after it).
  def receiver_tmpdir
    @receiver_tmpdir ||= Dir.mktmpdir("mailroom-jwt-receiver-")
  end

  # Writes a new GitLab secret file (strict base64 of 32 random bytes) and
  # returns the raw bytes.
  def new_secret_file(name)
    path = File.join(receiver_tmpdir, name)
    bytes = Random.bytes(32)
    File.write(path, [bytes].pack("m0"), perm: 0o600)
    File.chmod(0o600, path)
    bytes
  end

  def secret_path(name)
    File.join(receiver_tmpdir, name)
  end

  # Exactly mail_room's token: the real MailRoom::JWT (ruby-jwt underneath),
  # reading the secret file as mail_room does.
  def mail_room_token(secret_file, issuer: ISSUER)
    require "mail_room/jwt"
    MailRoom::JWT.new(header: "Gitlab-Mailroom-Api-Request", secret_path: secret_file,
                      issuer: issuer, algorithm: "HS256").token
  end

  # A token made by ruby-jwt with the given claims (string keys).
  def ruby_jwt_token(payload, secret, header = {})
    require "jwt"
    JWT.encode(payload, secret, "HS256", header)
  end

  def mail_room_claims(iat: Time.now.to_i, iss: ISSUER, **extra)
    { "nonce" => SecureRandom.hex(12), "iat" => iat, "iss" => iss }.merge(extra.transform_keys(&:to_s))
  end

  def body_sha256(body)
    [OpenSSL::Digest::SHA256.digest(body.b)].pack("m0").tr("+/", "-_").delete("=")
  end

  # Sample emails (the GitLab fixture's text).
  def sample_email(subject: "The message subject! @all", body: "Service desk reply!\n\n/label ~label2\n")
    <<~MAIL
      Return-Path: <alan@adventuretime.ooo>
      Date: Thu, 13 Jun 2013 17:03:48 -0400
      From: Jake the Dog <alan@adventuretime.ooo>
      To: incoming+email-test-project_id-issue-@appmail.adventuretime.ooo
      Message-ID: <CAH_Wr+rNGAGGbV2iE5p918UVy4UyJqVcXRO2=otppgzduJSg@mail.gmail.com>
      Subject: #{subject}
      Mime-Version: 1.0
      Content-Type: text/plain;
       charset=ISO-8859-1
      Content-Transfer-Encoding: 7bit

      #{body}
    MAIL
  end
end

# A Rack app served by Puma on 127.0.0.1, on a free port, in this process.
#
#   server = ReceiverHTTPServer.start(app)
#   server.url("/api/v4/internal/mail_room/incoming_email")
#   server.stop
class ReceiverHTTPServer
  def self.start(app, threads: 8)
    new(app, threads).tap(&:start)
  end

  attr_reader :port

  def initialize(app, threads)
    require "puma"
    require "puma/server"
    @server = Puma::Server.new(app, nil, min_threads: 0, max_threads: threads, log_writer: Puma::LogWriter.null)
  end

  def start
    @server.add_tcp_listener("127.0.0.1", 0)
    @thread = @server.run
    @port = @server.connected_ports.first
  end

  def url(path = "/")
    "http://127.0.0.1:#{@port}#{path}"
  end

  def stop
    @server.stop(true)
    @thread&.join(5)
  end
end

RSpec.configure do |config|
  config.include ReceiverHelpers
  config.after do
    FileUtils.rm_rf(@receiver_tmpdir) if @receiver_tmpdir
  end
end
