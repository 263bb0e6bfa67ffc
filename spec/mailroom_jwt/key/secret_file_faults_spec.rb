# frozen_string_literal: true

require "etc"
require "logger"
require "pathname"
require "stringio"
require "tmpdir"

# Key.read against every way a secret file goes wrong on a real machine.
# Each fault is a SecretFileError naming the path and the reason and never
# the content, except a file that the group or others can read: that is a
# warning through the logger. Calls that could block (a FIFO, /dev/zero, a
# huge file) run in a forked child with a deadline, so that a regression
# fails the example instead of hanging the suite.
RSpec.describe MailroomJWT::Key, ".read faults" do
  let(:secret_bytes) { Random.bytes(32) }
  let(:secret_b64) { [secret_bytes].pack("m0") }
  let(:log) { StringIO.new }
  let(:logger) { Logger.new(log) }

  around do |example|
    Dir.mktmpdir("mailroom-jwt-secrets") do |dir|
      @dir = dir
      example.run
    end
  end

  def secret_file(content, name: "secret", mode: 0o600)
    path = File.join(@dir, name)
    File.binwrite(path, content)
    File.chmod(mode, path)
    path
  end

  def expect_refused(path, reason)
    expect { described_class.read(path, logger: logger) }
      .to raise_error(MailroomJWT::SecretFileError) { |e|
        expect(e.message).to start_with(path.to_s).and include(reason)
        expect(e.message).not_to include(secret_b64)
      }
    expect(log.string).to eq("")
  end

  it "reads a good file (the baseline the faults below depart from)" do
    key = described_class.read(secret_file(secret_b64), logger: logger)
    expect(key).to eq(described_class.new(secret_bytes))
    expect(log.string).to eq("")
  end

  it "refuses a missing file" do
    expect_refused(File.join(@dir, "missing"), "cannot open (No such file or directory)")
  end

  it "refuses a directory" do
    expect_refused(@dir, "not a regular file")
  end

  it "refuses a FIFO without blocking, even with no writer" do
    fifo = File.join(@dir, "fifo")
    File.mkfifo(fifo, 0o600)
    result = in_child(timeout: 10) { described_class.read(fifo, logger: nil) }
    expect(result).to eq([:raised, "MailroomJWT::SecretFileError", "#{fifo}: not a regular file"])
  end

  it "refuses /dev/zero without reading it" do
    result = in_child(timeout: 10) { described_class.read("/dev/zero", logger: nil) }
    expect(result).to eq([:raised, "MailroomJWT::SecretFileError", "/dev/zero: not a regular file"])
  end

  it "refuses a huge file by its size, without reading it whole" do
    path = File.join(@dir, "huge")
    File.open(path, "w", 0o600) { |f| f.truncate(8 * 1024**3) } # 8 GiB, sparse
    result = in_child(timeout: 10) { described_class.read(path, logger: nil) }
    expect(result).to eq([:raised, "MailroomJWT::SecretFileError", "#{path}: too large for a secret file"])
  end

  it "refuses a file one byte over the cap, and reads at most that far where the size is unknown" do
    cap = MailroomJWT::Native::SECRET_FILE_MAX
    expect_refused(secret_file("A" * (cap + 1)), "too large for a secret file")
    # procfs files report size 0: the reader must still stop at the cap.
    expect(File.read("/proc/self/maps").bytesize).to be > cap
    expect_refused("/proc/self/maps", "too large for a secret file")
  end

  it "follows a symlink to a good file, and refuses a dangling one and a loop" do
    target = secret_file(secret_b64)
    link = File.join(@dir, "link")
    File.symlink(target, link)
    expect(described_class.read(link, logger: logger)).to eq(described_class.new(secret_bytes))

    dangling = File.join(@dir, "dangling")
    File.symlink(File.join(@dir, "nowhere"), dangling)
    expect_refused(dangling, "cannot open (No such file or directory)")

    loop_a = File.join(@dir, "loop_a")
    File.symlink(File.join(@dir, "loop_b"), loop_a)
    File.symlink(loop_a, File.join(@dir, "loop_b"))
    expect_refused(loop_a, "cannot open (Too many levels of symbolic links)")
  end

  it "refuses an empty file and a file that is only a line ending" do
    expect_refused(secret_file(""), "empty")
    expect_refused(secret_file("\n", name: "newline"), "empty")
    expect_refused(secret_file("\r\n", name: "crlf"), "empty")
  end

  it "accepts one trailing LF, CRLF or CR (as String#chomp) and nothing more" do
    ["\n", "\r\n", "\r"].each_with_index do |ending, i|
      key = described_class.read(secret_file(secret_b64 + ending, name: "ok#{i}"), logger: logger)
      expect(key).to eq(described_class.new(secret_bytes))
    end
    ["\n\n", "\r\n\r\n", "\n\r", " \n", "\t"].each_with_index do |ending, i|
      expect_refused(secret_file(secret_b64 + ending, name: "bad#{i}"), "not strict base64")
    end
    expect_refused(secret_file(" #{secret_b64}", name: "leading"), "not strict base64")
    expect_refused(secret_file("#{secret_b64[0, 20]}\n#{secret_b64[20..]}", name: "inner"), "not strict base64")
  end

  it "refuses a key of the wrong length" do
    [16, 31, 33, 64].each do |n|
      expect_refused(secret_file([Random.bytes(n)].pack("m0"), name: "len#{n}"),
                     "does not decode to exactly 32 bytes")
    end
  end

  it "refuses bad base64: other alphabets, missing or extra padding, stray characters" do
    url_safe = secret_b64.tr("+/", "-_")
    url_safe = "-#{url_safe[1..]}" if url_safe == secret_b64
    {
      "urlsafe" => url_safe,
      "unpadded" => secret_b64.delete("="),
      "overpadded" => "#{secret_b64}==",
      "star" => "*#{secret_b64[1..]}",
      "trailing_bits" => "#{secret_b64[0, 42]}B=", # 'B' leaves non-zero trailing bits
      "hex" => secret_bytes.unpack1("H*")
    }.each do |name, content|
      reason = name == "hex" ? "does not decode to exactly 32 bytes" : "not strict base64"
      expect_refused(secret_file(content, name: name), reason)
    end
  end

  it "warns through the logger, without failing, when the group or others can read the file" do
    [0o640, 0o604, 0o644, 0o660].each do |mode|
      log.truncate(0)
      log.rewind
      path = secret_file(secret_b64, name: format("mode%o", mode), mode: mode)
      expect(described_class.read(path, logger: logger)).to eq(described_class.new(secret_bytes))
      expect(log.string).to include("WARN").and include(path).and include(format("%04o", mode))
      expect(log.string).to include("readable by group or others")
      expect(log.string).not_to include(secret_b64)
    end
  end

  it "does not warn for mode 0600 or 0400, and takes logger: nil" do
    [0o600, 0o400].each do |mode|
      described_class.read(secret_file(secret_b64, name: format("m%o", mode), mode: mode), logger: logger)
    end
    expect(log.string).to eq("")
    expect(described_class.read(secret_file(secret_b64, name: "nil", mode: 0o644), logger: nil))
      .to eq(described_class.new(secret_bytes))
  end

  it "refuses a file the process may not read" do
    path = secret_file(secret_b64, mode: 0o000)
    File.chmod(0o755, @dir)
    # Root reads any file whatever its mode, and CI runs as root: there the
    # child gives up root for the unprivileged 'nobody' user first, so that
    # the kernel really refuses the open (EACCES), as it would for the git
    # user reading a root-only file.
    result = in_child(timeout: 10) do
      if Process.euid.zero?
        nobody = Etc.getpwnam("nobody")
        Process::Sys.setgid(nobody.gid)
        Process::Sys.setuid(nobody.uid)
        raise "still root" if Process.euid.zero? || File.readable?(path)
      end
      described_class.read(path, logger: nil)
    end
    expect(result).to eq([:raised, "MailroomJWT::SecretFileError", "#{path}: cannot open (Permission denied)"])
  end

  it "refuses a path that cannot be opened: through a regular file, or too long" do
    file = secret_file(secret_b64)
    expect_refused(File.join(file, "secret"), "cannot open (Not a directory)")
    expect_refused(File.join(@dir, "x" * 300), "cannot open (File name too long)")
  end

  # Found by the property spec (random paths): these raised ArgumentError and
  # Encoding::CompatibilityError from inside the bindings.
  it "refuses a path with a NUL byte or in an encoding that is not ASCII-compatible" do
    expect { described_class.read("#{@dir}/se\0cret", logger: nil) }
      .to raise_error(MailroomJWT::SecretFileError, "secret file path contains a NUL byte")
    expect { described_class.read(File.join(@dir, "secret").encode("UTF-16LE"), logger: nil) }
      .to raise_error(MailroomJWT::SecretFileError,
                      "secret file path must be in an ASCII-compatible encoding, not UTF-16LE")
    key = described_class.generate
    expect { key.write("#{@dir}/se\0cret") }
      .to raise_error(MailroomJWT::SecretFileError, "secret file path contains a NUL byte")
    expect { key.write(File.join(@dir, "secret").encode("UTF-32BE")) }
      .to raise_error(MailroomJWT::SecretFileError,
                      "secret file path must be in an ASCII-compatible encoding, not UTF-32BE")
  end

  it "refuses a path that is not a String or Pathname" do
    expect { described_class.read(42, logger: nil) }
      .to raise_error(MailroomJWT::SecretFileError, "secret file path must be a String, got Integer")
    expect(described_class.read(Pathname(secret_file(secret_b64)), logger: nil)).to eq(described_class.new(secret_bytes))
  end
end
