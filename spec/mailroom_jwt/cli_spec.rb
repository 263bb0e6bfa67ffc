# frozen_string_literal: true

require "base64"
require "jwt"
require "tmpdir"
require "yaml"

RSpec.describe "exe/mailroom-jwt" do
  around do |example|
    Dir.mktmpdir("cli-spec") do |dir|
      @dir = dir
      example.run
    end
  end

  let(:secret) { Random.bytes(32) }
  let(:secret_path) { write_secret_file(File.join(@dir, "secret"), secret) }
  let(:email_path) { File.join(@dir, "mail.eml").tap { |p| File.binwrite(p, email) } }
  let(:email) { "From: a@example.com\r\nSubject: cli\r\n\r\nHello \xE9\r\n".b }

  describe "help and usage errors" do
    it "lists every command" do
      run = run_cli("--help")
      expect(run.exitstatus).to eq(0)
      %w[keygen sign verify deliver serve demo doctor].each { |c| expect(run.out).to match(/^  #{c} /) }
    end

    it "has --help for each command" do
      %w[keygen sign verify deliver serve demo doctor].each do |command|
        run = run_cli(command, "--help")
        expect(run.exitstatus).to eq(0), "#{command}: #{run.err}"
        expect(run.out).to start_with("Usage: mailroom-jwt #{command}")
        expect(run.out).to include("--help")
      end
    end

    it "fails with one line and status 2 on no command, an unknown command or an unknown option" do
      expect_one_line_error(run_cli, 2, /no command given/)
      expect_one_line_error(run_cli("frobnicate"), 2, /unknown command "frobnicate"/)
      expect_one_line_error(run_cli("sign", "--frob"), 2, /invalid option: --frob/)
      expect_one_line_error(run_cli("keygen"), 2, /missing argument; usage: mailroom-jwt keygen PATH/)
      expect_one_line_error(run_cli("verify", "x", "--max-age", "soon", "--secret-file", secret_path), 2,
                            /invalid argument: --max-age soon/)
    end
  end

  describe "keygen" do
    it "writes a 32-byte secret file, mode 0600, and prints only its fingerprint" do
      path = File.join(@dir, "new_secret")
      run = run_cli("keygen", path)
      expect(run.exitstatus).to eq(0)
      content = File.read(path)
      expect(Base64.strict_decode64(content).bytesize).to eq(32)
      expect(File.stat(path).mode & 0o777).to eq(0o600)
      expect(run.out).to include(MailroomJWT::Key.read(path).fingerprint)
      expect(run.out).not_to include(content)
    end

    it "refuses to overwrite without --force, and replaces with it" do
      before = File.read(secret_path)
      expect_one_line_error(run_cli("keygen", secret_path), 1, /already exists; pass --force/)
      expect(File.read(secret_path)).to eq(before)

      expect(run_cli("keygen", secret_path, "--force").exitstatus).to eq(0)
      expect(File.read(secret_path)).not_to eq(before)
    end

    it "names the path it cannot write" do
      expect_one_line_error(run_cli("keygen", File.join(@dir, "missing-dir", "s")), 1, /missing-dir/)
    end

    it "explains the three-step rotation in its help" do
      help = run_cli("keygen", "--help").out
      expect(help).to match(/1\. .*receiver.*\n.*list/)
      expect(help).to match(/2\. .*sender/)
      expect(help).to match(/3\. .*remove OLD_PATH/m)
    end
  end

  describe "sign" do
    it "prints a token like mail_room's that ruby-jwt accepts as GitLab checks it" do
      run = run_cli("sign", "--secret-file", secret_path)
      expect(run.exitstatus).to eq(0)
      payload, header = JWT.decode(run.out.strip, secret, true, algorithm: "HS256", iss: "gitlab-mailroom",
                                                                verify_iss: true)
      expect(header).to eq("alg" => "HS256")
      expect(payload.keys).to eq(%w[nonce iat iss])
    end

    it "adds the opt-in claims" do
      run = run_cli("sign", "--secret-file", secret_path, "--issuer", "mailroom", "--audience", "incoming_email",
                    "--expires-in", "60", "--body-file", email_path)
      payload, = JWT.decode(run.out.strip, secret, true, algorithm: "HS256")
      expect(payload).to include("iss" => "mailroom", "aud" => "incoming_email", "exp" => payload["iat"] + 60,
                                 "body_sha256" => b64url(OpenSSL::Digest.digest("SHA256", email)))
    end

    it "names a broken secret file without showing its content" do
      File.write(secret_path, Base64.strict_encode64("short"))
      run = run_cli("sign", "--secret-file", secret_path)
      expect_one_line_error(run, 1, /#{Regexp.escape(secret_path)}/)
      expect(run.err).not_to include(File.read(secret_path))
    end
  end

  describe "verify" do
    let(:key) { MailroomJWT::Key.new(secret) }
    let(:fresh) { { "nonce" => "0" * 24, "iat" => Time.now.to_i, "iss" => "gitlab-mailroom" } }

    it "prints the claims of a good token" do
      token = key.encode(fresh)
      run = run_cli("verify", token, "--secret-file", secret_path)
      expect(run.exitstatus).to eq(0)
      expect(JSON.parse(run.out[/\{.*\}/m])).to eq("header" => { "alg" => "HS256" }, "payload" => fresh)
      expect(run.out).to include("fingerprint #{key.fingerprint}")
    end

    it "reads the token from stdin" do
      run = run_cli("verify", "-", "--secret-file", secret_path, stdin: "#{key.encode(fresh)}\n")
      expect(run.exitstatus).to eq(0)
    end

    it "accepts a token made with any of several secrets" do
      other = write_secret_file(File.join(@dir, "other"))
      run = run_cli("verify", key.encode(fresh), "--secret-file", other, "--secret-file", secret_path)
      expect(run.exitstatus).to eq(0)
      expect(run.out).to include("signed with #{secret_path}")
    end

    it "rejects a tampered token, a stale one, another issuer, another algorithm" do
      token = key.encode(fresh)
      tampered = token.sub(/\.[^.]+\./, ".#{b64url(JSON.generate(fresh.merge('iss' => 'evil')))}.")
      stale = key.encode(fresh.merge("iat" => Time.now.to_i - 600))
      hs512 = JWT.encode(fresh, secret, "HS512")
      {
        tampered => /Signature verification failed \(VerificationError\)/,
        stale => /Token has expired \(ExpiredSignature\)/,
        key.encode(fresh.merge("iss" => "mailroom")) => /InvalidIssuerError/,
        hs512 => /IncorrectAlgorithm/,
        "not-a-token" => /DecodeError/
      }.each do |bad, reason|
        expect_one_line_error(run_cli("verify", bad, "--secret-file", secret_path), 1, /rejected: .*#{reason}/)
      end
    end

    it "checks the audience and the body digest when asked" do
      token = MailroomJWT::Token.new(header: "h", secret_path: secret_path, issuer: "gitlab-mailroom",
                                     audience: "incoming_email", bind_body: true).token(body: email)
      ok = run_cli("verify", token, "--secret-file", secret_path, "--audience", "incoming_email",
                   "--body-file", email_path)
      expect(ok.exitstatus).to eq(0)

      expect_one_line_error(run_cli("verify", token, "--secret-file", secret_path, "--audience", "service_desk_email"),
                            1, /InvalidAudError/)
      File.binwrite(email_path, "#{email}P.S. injected\r\n")
      expect_one_line_error(run_cli("verify", token, "--secret-file", secret_path, "--body-file", email_path),
                            1, /body_sha256 does not match/)
    end
  end

  describe "deliver" do
    it "posts the email like mail_room and shows the answer" do
      with_recording_server do |server|
        run = run_cli("deliver", email_path, "--url", server.url, "--secret-file", secret_path)
        expect(run.exitstatus).to eq(0), run.err
        expect(run.out).to include('delivered: HTTP 200 after 1 attempt: {"success":true}')

        request = the_only(server.all_requests)
        expect(request.body).to eq(email)
        expect(request.headers["content-type"]).to eq("text/plain")
        JWT.decode(request.headers["gitlab-mailroom-api-request"], secret, true, algorithm: "HS256",
                                                                                 iss: "gitlab-mailroom", verify_iss: true)
      end
    end

    it "fails with the receiver's answer on a 401" do
      with_recording_server(->(_req) { [401, '{"message":"401 Unauthorized"}'] }) do |server|
        run = run_cli("deliver", email_path, "--url", server.url, "--secret-file", secret_path)
        expect_one_line_error(run, 1, /not delivered after 1 attempt: HTTP 401: \{"message":"401 Unauthorized"\}/)
      end
    end

    it "fails with the reason when nothing listens" do
      port = TCPServer.open("127.0.0.1", 0) { |s| s.addr[1] }
      run = run_cli("deliver", email_path, "--url", "http://127.0.0.1:#{port}/x", "--secret-file", secret_path,
                    "--max-attempts", "2")
      expect_one_line_error(run, 1, /not delivered after 2 attempts: .*ECONNREFUSED/)
    end

    it "needs --url and --secret-file, and a readable email" do
      expect_one_line_error(run_cli("deliver", email_path, "--secret-file", secret_path), 2, /--url is required/)
      expect_one_line_error(run_cli("deliver", File.join(@dir, "none.eml"), "--url", "http://127.0.0.1:9/",
                                    "--secret-file", secret_path), 1, /none\.eml: no such file/)
    end
  end

  describe "doctor" do
    def gitlab_yml(secret_file)
      File.join(@dir, "gitlab.yml").tap do |path|
        File.write(path, YAML.dump("production" => { "incoming_email" => {
                                     "enabled" => true, "address" => "in+%{key}@example.com", "secret_file" => secret_file
                                   } }))
      end
    end

    it "reports each secret file and exits 0 when all is well" do
      run = run_cli("doctor", "--config", gitlab_yml(secret_path))
      expect(run.exitstatus).to eq(0), run.err
      expect(run.out).to include("ok      incoming_email: GitLab secret #{secret_path}: 32 bytes, mode 0600")
    end

    it "says what to fix and exits 1" do
      File.chmod(0o644, secret_path)
      run = run_cli("doctor", "--config", gitlab_yml(secret_path))
      expect(run.out).to include("run chmod 600 #{secret_path}")
      expect_one_line_error(run, 1, /1 problem\(s\) found/)
    end

    it "needs --config and a readable file" do
      expect_one_line_error(run_cli("doctor"), 2, /--config is required/)
      expect_one_line_error(run_cli("doctor", "--config", File.join(@dir, "x.yml")), 1, /x\.yml: no such file/)
    end
  end

  describe "serve" do
    it "runs the receiver on 127.0.0.1, queues what a valid token brings, refuses the rest, stops on TERM" do
      spool = File.join(@dir, "spool")
      with_background_cli("serve", "--secret-file", secret_path, "--port", "0", "--spool", spool) do |out, err, wait|
        banner = read_until(out, /Ctrl-C to stop/)
        url = banner[%r{POST (http://127\.0\.0\.1:\d+/api/v4/internal/mail_room/incoming_email)}, 1]
        expect(url).not_to be_nil

        good = MailroomJWT::Postback.new(delivery_url: url, content_type: "text/plain", logger: Logger.new(File::NULL),
                                         jwt_auth_header: "Gitlab-Mailroom-Api-Request",
                                         jwt_issuer: "gitlab-mailroom", jwt_secret_path: secret_path)
        expect(good.deliver(email)).to be(true)
        good.close
        wrong = write_secret_file(File.join(@dir, "wrong"))
        bad = MailroomJWT::Postback.new(delivery_url: url, jwt_auth_header: "Gitlab-Mailroom-Api-Request",
                                        jwt_issuer: "gitlab-mailroom", jwt_secret_path: wrong, logger: Logger.new(File::NULL))
        expect(bad.deliver_with_result(email).status).to eq(401)
        bad.close

        queued = Dir[File.join(spool, "incoming_email", "new", "*")]
        expect(queued.size).to eq(1)
        expect(File.binread(queued.first)).to eq(MailroomJWT::UTF8.encode(email).b)

        Process.kill("TERM", wait.pid)
        expect(wait.join(15)).not_to be_nil
        expect(wait.value.exitstatus).to eq(0)
        expect(out.read).to include("stopped")
        log = err.read
        expect(log).to include('"status":200').and include('"status":401')
        expect(log).not_to include(File.read(secret_path))
      end
    end

    it "reads the mailboxes from a gitlab.yml-form file" do
      config = File.join(@dir, "gitlab.yml")
      File.write(config, YAML.dump("production" => {
                                     "incoming_email" => { "enabled" => true, "address" => "i@example.com",
                                                           "secret_file" => secret_path },
                                     "service_desk_email" => { "enabled" => true, "address" => "s@example.com",
                                                               "secret_file" => secret_path }
                                   }))
      with_background_cli("serve", "--config", config, "--port", "0", "--spool", File.join(@dir, "s"),
                          "--server", "webrick") do |out, _err, wait|
        banner = read_until(out, /Ctrl-C to stop/)
        expect(banner).to match(%r{POST http://127\.0\.0\.1:\d+/api/v4/internal/mail_room/incoming_email})
        expect(banner).to match(%r{POST http://127\.0\.0\.1:\d+/api/v4/internal/mail_room/service_desk_email})
        Process.kill("INT", wait.pid)
        expect(wait.join(15)).not_to be_nil
        expect(wait.value.exitstatus).to eq(0)
      end
    end

    it "fails with one line on a broken secret, a missing configuration or a taken port" do
      File.write(secret_path, "nope")
      expect_one_line_error(run_cli("serve", "--secret-file", secret_path, "--port", "0"), 1,
                            /#{Regexp.escape(secret_path)}/)
      expect_one_line_error(run_cli("serve"), 2, /give --config FILE or --secret-file PATH/)
      TCPServer.open("127.0.0.1", 0) do |taken|
        good = write_secret_file(File.join(@dir, "good"))
        expect_one_line_error(run_cli("serve", "--secret-file", good, "--port", taken.addr[1]), 1, /cannot listen/)
      end
    end
  end

  describe "demo" do
    it "runs end to end with no setup and exits 0" do
      run = run_cli("demo", chdir: @dir)
      expect(run.exitstatus).to eq(0), run.out + run.err
      expect(run.out).to include("HTTP 200 {\"success\":true}: accepted and queued")
      expect(run.out.scan('HTTP 401 {"message":"401 Unauthorized"}: refused').size).to eq(2)
      expect(run.out).to match(%r{the email now lies in /\S+/spool/incoming_email/new/})
      removed = run.out[/^Removed (\S+) and everything in it/, 1]
      expect(removed).not_to be_nil
      expect(File.exist?(removed)).to be(false)
      expect(Dir.children(@dir)).to be_empty # nothing left in the working directory either
    end
  end
end
