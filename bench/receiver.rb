# frozen_string_literal: true

# The receiver's per-request token check, against GitLab's today (ruby-jwt,
# in the same run): ratios, not absolute times.
#
#   bundle exec rake bench:receiver      (ITERATIONS=50000 to change the count)

require "benchmark"
require "tmpdir"
require "jwt"
require "mailroom_jwt"

ITERATIONS = Integer(ENV.fetch("ITERATIONS", "50000"))
ROUNDS = 3

def best_of(rounds = ROUNDS)
  Array.new(rounds) { Benchmark.realtime { ITERATIONS.times { yield } } }.min
end

Dir.mktmpdir do |dir|
  path = File.join(dir, "incoming_secret")
  MailroomJWT::Key.generate.write(path)
  secret = File.read(path).unpack1("m0")
  mailboxes = MailroomJWT::Mailboxes.new({ "incoming_email" => { "enabled" => true, "address" => "a@example.com",
                                                                 "secret_file" => path } }, logger: nil)
  authenticator = MailroomJWT::Authenticator.new(mailboxes)
  concern = Class.new do
    include MailroomJWT::Authenticatable

    define_singleton_method(:secret_path) { path }
  end

  token = JWT.encode({ nonce: "0" * 24, iat: Time.now.to_i, iss: "gitlab-mailroom" }, secret, "HS256")
  headers = { "Gitlab-Mailroom-Api-Request" => token }
  env = { "HTTP_GITLAB_MAILROOM_API_REQUEST" => token }

  # GitLab's Gitlab::MailRoom::Authenticator.verify_api_request today:
  # JwtAuthenticatable#decode_jwt on ruby-jwt, the secret memoized.
  gitlab = lambda do
    decoded = JWT.decode(headers["Gitlab-Mailroom-Api-Request"], secret, true,
                         { algorithm: "HS256", iss: "gitlab-mailroom", verify_iss: true, verify_iat: true })
    raise JWT::ExpiredSignature, "Token has expired" if decoded[0]["iat"].to_i < (Time.now - 300).to_i

    decoded
  end

  raise "setup" unless gitlab.call && authenticator.verify_api_request(headers, "incoming_email") &&
                       concern.decode_jwt(token, issuer: "gitlab-mailroom", iat_after: Time.now - 300)

  results = {
    "ruby-jwt, as GitLab today" => best_of { gitlab.call },
    "Authenticator#verify_api_request (Hash headers, stat of the secret file)" =>
      best_of { authenticator.verify_api_request(headers, "incoming_email") },
    "Authenticator#verify_api_request (Rack env)" => best_of { authenticator.verify_api_request(env, "incoming_email") },
    "Authenticatable.decode_jwt (class secret, re-read on change)" =>
      best_of { concern.decode_jwt(token, issuer: "gitlab-mailroom", iat_after: Time.now - 300) }
  }
  base = results.values.first
  puts format("%-80s %12s %10s", "receiver token check (#{ITERATIONS} per round, best of #{ROUNDS})", "us/op", "speed-up")
  results.each do |name, seconds|
    puts format("%-80s %12.2f %9.2fx", name, seconds * 1e6 / ITERATIONS, base / seconds)
  end
end
