package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const (
	digest  = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	digest2 = "sha256:fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210"
	ecrRepo = "123456789012.dkr.ecr.us-east-1.amazonaws.com/api"
)

// project copies Pulumi.yaml and every stack file of the repository into a temporary directory.
func projectCopy(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	files, _ := filepath.Glob("../../Pulumi*.yaml")
	if len(files) < 3 {
		t.Fatalf("found only %v", files)
	}
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, filepath.Base(f)), raw, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func setimage(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := run(args, &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

func read(t *testing.T, dir, name string) string {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(dir, name))
	if err != nil {
		t.Fatal(err)
	}
	return string(raw)
}

// changedLines returns the lines that differ between two versions of a file of the same length.
func changedLines(t *testing.T, before, after string) []string {
	t.Helper()
	b, a := strings.Split(before, "\n"), strings.Split(after, "\n")
	if len(a) != len(b) {
		t.Fatalf("the edit changed the number of lines from %d to %d", len(b), len(a))
	}
	var out []string
	for i := range a {
		if a[i] != b[i] {
			out = append(out, a[i])
		}
	}
	return out
}

// TestPinsTheImageAndKeepsEverythingElse: only the image line changes; its indentation stays, the
// value is the digest reference, the tag is a comment on it, and every comment of the file stays.
func TestPinsTheImageAndKeepsEverythingElse(t *testing.T) {
	for _, stack := range []string{"dev", "prod"} {
		dir := projectCopy(t)
		before := read(t, dir, "Pulumi."+stack+".yaml")
		code, stdout, stderr := setimage(t, "--dir", dir, "--stack", stack, "--image", ecrRepo+":1.4.2@"+digest)
		if code != 0 {
			t.Fatalf("%s: exit %d: %s", stack, code, stderr)
		}
		after := read(t, dir, "Pulumi."+stack+".yaml")
		got := changedLines(t, before, after)
		want := "  ecs-api:image: " + ecrRepo + "@" + digest + "  # tag 1.4.2"
		if len(got) != 1 || got[0] != want {
			t.Errorf("%s: changed %q, want only %q", stack, got, want)
		}
		if !strings.Contains(stdout, ecrRepo+":1.4.2@"+digest) {
			t.Errorf("%s: output %q", stack, stdout)
		}
		// Pinning again replaces the value and its tag comment; nothing accumulates.
		if code, _, stderr := setimage(t, "--dir", dir, "--stack", stack, "--image", ecrRepo+"@"+digest2); code != 0 {
			t.Fatalf("%s: exit %d: %s", stack, code, stderr)
		}
		if got := changedLines(t, before, read(t, dir, "Pulumi."+stack+".yaml")); len(got) != 1 || got[0] != "  ecs-api:image: "+ecrRepo+"@"+digest2 {
			t.Errorf("%s: after a second pin, changed %q", stack, got)
		}
	}
}

// TestPromotionCopiesExactlyTheVerifiedImage: prod gets dev's digest and tag comment, nothing else.
func TestPromotionCopiesExactlyTheVerifiedImage(t *testing.T) {
	dir := projectCopy(t)
	if code, _, stderr := setimage(t, "--dir", dir, "--stack", "dev", "--image", ecrRepo+":2.0.0-rc.1@"+digest); code != 0 {
		t.Fatal(stderr)
	}
	before := read(t, dir, "Pulumi.prod.yaml")
	if code, _, stderr := setimage(t, "--dir", dir, "--stack", "prod", "--from", "dev"); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	got := changedLines(t, before, read(t, dir, "Pulumi.prod.yaml"))
	if want := "  ecs-api:image: " + ecrRepo + "@" + digest + "  # tag 2.0.0-rc.1"; len(got) != 1 || got[0] != want {
		t.Errorf("promotion changed %q, want %q", got, want)
	}
}

// TestAddsTheImageUnderConfigWhenMissing: a stack file without the key gets it as config's first entry.
func TestAddsTheImageUnderConfigWhenMissing(t *testing.T) {
	dir := projectCopy(t)
	file := filepath.Join(dir, "Pulumi.staging.yaml")
	if err := os.WriteFile(file, []byte("# Staging.\nconfig:\n    # Region.\n    aws:region: eu-west-1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if code, _, stderr := setimage(t, "--dir", dir, "--stack", "staging", "--image", ecrRepo+":1.0.0@"+digest); code != 0 {
		t.Fatal(stderr)
	}
	want := "# Staging.\nconfig:\n    ecs-api:image: " + ecrRepo + "@" + digest + "  # tag 1.0.0\n    # Region.\n    aws:region: eu-west-1\n"
	if got := read(t, dir, "Pulumi.staging.yaml"); got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
}

// TestRefusesWhatIsNotAnImmutableReleasedImage: every refusal exits 1 (2 for usage), names the
// problem, and leaves the file as it was.
func TestRefusesWhatIsNotAnImmutableReleasedImage(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		code int
		want string
	}{
		{"a tag without digest", []string{"--stack", "dev", "--image", ecrRepo + ":1.4.2"}, 1, "not pinned by digest"},
		{"latest, even pinned", []string{"--stack", "dev", "--image", ecrRepo + ":latest@" + digest}, 1, "mutable tag latest"},
		{"a short digest", []string{"--stack", "dev", "--image", ecrRepo + "@sha256:0123"}, 1, "not a reference"},
		{"an uppercase digest", []string{"--stack", "dev", "--image", ecrRepo + "@" + strings.ToUpper(digest)}, 1, "not a reference"},
		{"another algorithm", []string{"--stack", "dev", "--image", ecrRepo + "@sha512:" + strings.Repeat("a", 128)}, 1, "not a reference"},
		{"an uppercase repository", []string{"--stack", "dev", "--image", "ACME/api@" + digest}, 1, "not a valid name"},
		{"spaces", []string{"--stack", "dev", "--image", "api 1@" + digest}, 1, "not a reference"},
		{"an unknown stack", []string{"--stack", "qa", "--image", ecrRepo + "@" + digest}, 1, `unknown stack "qa"`},
		{"a path as stack", []string{"--stack", "../dev", "--image", ecrRepo + "@" + digest}, 1, "not a stack name"},
		{"promotion from an unpinned stack", []string{"--stack", "prod", "--from", "dev"}, 1, "cannot promote from dev"},
		{"promotion from an unknown stack", []string{"--stack", "prod", "--from", "qa"}, 1, `unknown stack "qa"`},
		{"no stack", []string{"--image", ecrRepo + "@" + digest}, 2, "usage"},
		{"both image and from", []string{"--stack", "prod", "--from", "dev", "--image", ecrRepo + "@" + digest}, 2, "usage"},
		{"neither image nor from", []string{"--stack", "prod"}, 2, "usage"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := projectCopy(t)
			before := read(t, dir, "Pulumi.dev.yaml") + read(t, dir, "Pulumi.prod.yaml")
			code, _, stderr := setimage(t, append([]string{"--dir", dir}, tc.args...)...)
			if code != tc.code || !strings.Contains(stderr, tc.want) {
				t.Errorf("exit %d, stderr %q; want exit %d mentioning %q", code, stderr, tc.code, tc.want)
			}
			if after := read(t, dir, "Pulumi.dev.yaml") + read(t, dir, "Pulumi.prod.yaml"); after != before {
				t.Error("a refused edit changed a stack file")
			}
		})
	}
	t.Run("unknown stack lists the stacks", func(t *testing.T) {
		_, _, stderr := setimage(t, "--dir", projectCopy(t), "--stack", "qa", "--image", ecrRepo+"@"+digest)
		if !strings.Contains(stderr, "stacks: dev, prod") {
			t.Errorf("stderr %q does not list the stacks", stderr)
		}
	})
}

// TestRefusesAmbiguousFiles: two image lines, or an image written as a block scalar, are not guessed at.
func TestRefusesAmbiguousFiles(t *testing.T) {
	for name, content := range map[string]string{
		"twice": "config:\n  ecs-api:image: a:1\n  ecs-api:image: b:2\n",
		"block": "config:\n  ecs-api:image: >-\n    a:1\n",
		"bare":  "# nothing\n",
	} {
		dir := projectCopy(t)
		if err := os.WriteFile(filepath.Join(dir, "Pulumi.odd.yaml"), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		if code, _, stderr := setimage(t, "--dir", dir, "--stack", "odd", "--image", ecrRepo+"@"+digest); code != 1 || stderr == "" {
			t.Errorf("%s: exit %d, stderr %q", name, code, stderr)
		}
		if read(t, dir, "Pulumi.odd.yaml") != content {
			t.Errorf("%s: the file changed", name)
		}
	}
}

// TestArchitectureFollowsTheInstanceType: the release checks the image has this platform.
func TestArchitectureFollowsTheInstanceType(t *testing.T) {
	dir := projectCopy(t)
	for stack, want := range map[string]string{"dev": "amd64", "prod": "amd64"} {
		if code, stdout, stderr := setimage(t, "--dir", dir, "--stack", stack, "--arch"); code != 0 || stdout != want+"\n" {
			t.Errorf("%s: exit %d, %q %s; want %s", stack, code, stdout, stderr, want)
		}
	}
	for name, content := range map[string]string{
		"graviton": "config:\n  ecs-api:instanceType: m7g.large\n",
		"default":  "config:\n  aws:region: us-east-1\n", // Pulumi.yaml's t3.medium
	} {
		if err := os.WriteFile(filepath.Join(dir, "Pulumi."+name+".yaml"), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if _, stdout, _ := setimage(t, "--dir", dir, "--stack", "graviton", "--arch"); stdout != "arm64\n" {
		t.Errorf("m7g.large: %q, want arm64", stdout)
	}
	if _, stdout, _ := setimage(t, "--dir", dir, "--stack", "default", "--arch"); stdout != "amd64\n" {
		t.Errorf("default t3.medium: %q, want amd64", stdout)
	}
}
