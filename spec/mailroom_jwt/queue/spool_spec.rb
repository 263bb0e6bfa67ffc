# frozen_string_literal: true

RSpec.describe MailroomJWT::Queue::Spool do
  let(:dir) { File.join(receiver_tmpdir, "spool") }
  let(:spool) { described_class.new(dir) }

  it "makes a Maildir (tmp, new, cur; mode 0700) per mailbox type" do
    spool
    %w[incoming_email service_desk_email].each do |type|
      %w[tmp new cur].each do |sub|
        expect(File.stat(File.join(dir, type, sub)).mode & 0o777).to eq(0o700)
      end
    end
  end

  it "writes each email to new/, complete, mode 0600, and returns its id" do
    email = sample_email
    id = spool.push("incoming_email", email)

    path = File.join(dir, id)
    expect(id).to start_with("incoming_email/new/")
    expect(File.binread(path)).to eq(email.b)
    expect(File.stat(path).mode & 0o777).to eq(0o600)
    expect(spool.pending(:incoming_email)).to eq([path])
    expect(spool.pending(:service_desk_email)).to eq([])
    expect(Dir.children(File.join(dir, "incoming_email", "tmp"))).to eq([])
  end

  it "keeps UTF-8 bytes as they are" do
    email = "Subject: ピーター\n\nこんにちは\n"
    id = spool.push(:service_desk_email, email)

    expect(File.binread(File.join(dir, id)).force_encoding(Encoding::UTF_8)).to eq(email)
  end

  it "gives every email its own file, across threads" do
    ids = Array.new(8) { |t| Thread.new { Array.new(25) { |i| spool.push("incoming_email", "mail #{t}-#{i}") } } }
              .flat_map(&:value)

    expect(ids.uniq.size).to eq(200)
    expect(spool.pending("incoming_email").map { |p| File.read(p) }.sort)
      .to eq(Array.new(8) { |t| Array.new(25) { |i| "mail #{t}-#{i}" } }.flatten.sort)
  end

  it "is safe with many processes writing at once" do
    spool
    pids = Array.new(4) do |n|
      fork do
        writer = described_class.new(dir)
        20.times { |i| writer.push("incoming_email", "process #{n} mail #{i}\n" * (1 + (i * 500))) }
        exit!(0)
      end
    end
    statuses = pids.map { |pid| Process.wait2(pid)[1] }

    expect(statuses.map(&:exitstatus)).to eq([0, 0, 0, 0])
    bodies = spool.pending("incoming_email").map { |p| File.read(p) }
    expected = Array.new(4) { |n| Array.new(20) { |i| "process #{n} mail #{i}\n" * (1 + (i * 500)) } }.flatten
    expect(bodies.sort).to eq(expected.sort)
    expect(Dir.children(File.join(dir, "incoming_email", "tmp"))).to eq([])
  end

  it "raises TooLarge over max_bytes and writes nothing" do
    small = described_class.new(dir, max_bytes: 10)

    expect { small.push("incoming_email", "x" * 11) }.to raise_error(MailroomJWT::Queue::TooLarge)
    expect(small.pending("incoming_email")).to eq([])
  end

  it "raises UnknownMailbox for another mailbox type (no path escapes the spool)" do
    expect { spool.push("../../etc", "x") }.to raise_error(MailroomJWT::Queue::UnknownMailbox)
  end

  it "raises Unavailable and leaves no file behind when the spool cannot be written" do
    spool
    new_dir = File.join(dir, "incoming_email", "new")
    FileUtils.rm_rf(new_dir)
    File.write(new_dir, "") # new/ is no longer a directory: the rename fails (also as root)

    expect { spool.push("incoming_email", "mail") }.to raise_error(MailroomJWT::Queue::Unavailable, /spool write failed/)
    expect(Dir.children(File.join(dir, "incoming_email", "tmp"))).to eq([])
  end

  it "raises Unavailable when the spool directory cannot be created" do
    File.write(File.join(receiver_tmpdir, "file"), "")

    expect { described_class.new(File.join(receiver_tmpdir, "file", "spool")) }
      .to raise_error(MailroomJWT::Queue::Unavailable, /cannot be created/)
  end
end
