package verify_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/acm"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	ecstypes "github.com/aws/aws-sdk-go-v2/service/ecs/types"
	elb "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	elbtypes "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"

	"github.com/acme/ecs-api/internal/motoserver"
	// Registers -update, so that `go test ./... -update` is accepted by this package too.
	_ "github.com/acme/ecs-api/internal/snapshot"
	"github.com/acme/ecs-api/internal/verify"
)

// aws is a set of SDK clients pointed at the emulator.
type clients struct {
	acm *acm.Client
	ecs *ecs.Client
	elb *elb.Client
	ec2 *ec2.Client
}

func newClients(endpoint string) clients {
	cfg := aws.Config{
		Region:      "us-east-1",
		Credentials: credentials.NewStaticCredentialsProvider("testing", "testing", ""),
	}
	return clients{
		acm: acm.NewFromConfig(cfg, func(o *acm.Options) { o.BaseEndpoint = aws.String(endpoint) }),
		ecs: ecs.NewFromConfig(cfg, func(o *ecs.Options) { o.BaseEndpoint = aws.String(endpoint) }),
		elb: elb.NewFromConfig(cfg, func(o *elb.Options) { o.BaseEndpoint = aws.String(endpoint) }),
		ec2: ec2.NewFromConfig(cfg, func(o *ec2.Options) { o.BaseEndpoint = aws.String(endpoint) }),
	}
}

// deploy describes the state a scenario builds in the emulator.
type deploy struct {
	desired int32
	// rolledBack registers a newer task definition than the service runs, as after a rollback.
	rolledBack bool
	// targets: "healthy", "stopped" (registered, instance stopped) or "none".
	targets string
	// appUp serves 200 on the health path; otherwise the URL does not answer.
	appUp bool
}

// setUp creates cluster, task definition(s), service and target group through the SDK and returns
// the stack outputs a real `pulumi up` would have produced for them.
func setUp(t *testing.T, c clients, name string, d deploy) verify.Outputs {
	t.Helper()
	ctx := context.Background()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	_, err := c.ecs.CreateCluster(ctx, &ecs.CreateClusterInput{ClusterName: aws.String(name)})
	must(err)
	register := func() string {
		out, err := c.ecs.RegisterTaskDefinition(ctx, &ecs.RegisterTaskDefinitionInput{
			Family:      aws.String(name),
			NetworkMode: ecstypes.NetworkModeBridge,
			ContainerDefinitions: []ecstypes.ContainerDefinition{{
				Name: aws.String("app"), Image: aws.String("nginx:1.27"), Memory: aws.Int32(256),
				PortMappings: []ecstypes.PortMapping{{ContainerPort: aws.Int32(3000), HostPort: aws.Int32(0)}},
			}},
		})
		must(err)
		return aws.ToString(out.TaskDefinition.TaskDefinitionArn)
	}
	running := register()
	_, err = c.ecs.CreateService(ctx, &ecs.CreateServiceInput{
		Cluster: aws.String(name), ServiceName: aws.String(name), TaskDefinition: aws.String(running),
		DesiredCount: aws.Int32(d.desired), LaunchType: ecstypes.LaunchTypeEc2,
	})
	must(err)
	expected := running
	if d.rolledBack {
		expected = register()
	}

	vpc, err := c.ec2.CreateVpc(ctx, &ec2.CreateVpcInput{CidrBlock: aws.String("10.0.0.0/16")})
	must(err)
	tg, err := c.elb.CreateTargetGroup(ctx, &elb.CreateTargetGroupInput{
		Name: aws.String(name), Protocol: elbtypes.ProtocolEnumHttp, Port: aws.Int32(3000),
		VpcId: vpc.Vpc.VpcId, TargetType: elbtypes.TargetTypeEnumInstance,
	})
	must(err)
	tgArn := tg.TargetGroups[0].TargetGroupArn
	if d.targets != "none" {
		images, err := c.ec2.DescribeImages(ctx, &ec2.DescribeImagesInput{})
		must(err)
		if len(images.Images) == 0 {
			t.Fatal("the emulator offers no AMI to launch")
		}
		run, err := c.ec2.RunInstances(ctx, &ec2.RunInstancesInput{
			ImageId: images.Images[0].ImageId, MinCount: aws.Int32(2), MaxCount: aws.Int32(2), InstanceType: ec2types.InstanceTypeT3Small,
		})
		must(err)
		var targets []elbtypes.TargetDescription
		var ids []string
		for i, inst := range run.Instances {
			ids = append(ids, aws.ToString(inst.InstanceId))
			targets = append(targets, elbtypes.TargetDescription{Id: inst.InstanceId, Port: aws.Int32(int32(49153 + i))})
		}
		_, err = c.elb.RegisterTargets(ctx, &elb.RegisterTargetsInput{TargetGroupArn: tgArn, Targets: targets})
		must(err)
		if d.targets == "stopped" {
			_, err = c.ec2.StopInstances(ctx, &ec2.StopInstancesInput{InstanceIds: ids[:1]})
			must(err)
		}
	}

	url := "http://127.0.0.1:1" // nothing listens on port 1
	if d.appUp {
		app := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path != "/health" {
				http.NotFound(w, r)
				return
			}
			fmt.Fprintln(w, "ok")
		}))
		t.Cleanup(app.Close)
		url = app.URL
	}
	return verify.Outputs{
		Region: "us-east-1", ClusterName: name, ServiceName: name, TaskDefinitionArn: expected,
		TargetGroupArn: aws.ToString(tgArn), URL: url, HealthCheckPath: "/health",
	}
}

func TestVerifyAgainstTheEmulator(t *testing.T) {
	c := newClients(motoserver.Endpoint(t))
	for _, tc := range []struct {
		name    string
		deploy  deploy
		wantErr bool
		want    []string
		quick   bool // a final failure must not wait for the timeout
	}{
		{
			name:   "converged",
			deploy: deploy{desired: motoserver.RunningTasks, targets: "healthy", appUp: true},
			want:   []string{"PASS  deployment", "(COMPLETED)", "PASS  running      2 of 2 tasks running", "PASS  targets      2 of 2 healthy", "PASS  http", ": 200", "deploy verified: 4/4"},
		},
		{
			name:    "rolled-back",
			deploy:  deploy{desired: motoserver.RunningTasks, rolledBack: true, targets: "healthy", appUp: true},
			wantErr: true, quick: true,
			want: []string{"FAIL  deployment   ROLLED BACK: the service runs rolled-back:1, not rolled-back:2", "waiting will not fix it"},
		},
		{
			name:    "stuck",
			deploy:  deploy{desired: motoserver.RunningTasks + 1, targets: "healthy", appUp: true},
			wantErr: true,
			want:    []string{"waiting (round 1", "FAIL  running      2 of 3 tasks running", "FAIL  deployment", "rollout IN_PROGRESS", "checks pass after"},
		},
		{
			name:    "unhealthy-target",
			deploy:  deploy{desired: motoserver.RunningTasks, targets: "stopped", appUp: true},
			wantErr: true,
			want:    []string{"FAIL  targets      1 of 2 healthy;", "is unused"},
		},
		{
			name:    "no-targets",
			deploy:  deploy{desired: motoserver.RunningTasks, targets: "none", appUp: true},
			wantErr: true,
			want:    []string{"FAIL  targets      no targets registered"},
		},
		{
			name:    "url-not-answering",
			deploy:  deploy{desired: motoserver.RunningTasks, targets: "healthy", appUp: false},
			wantErr: true,
			want:    []string{"FAIL  http         GET http://127.0.0.1:1/health"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			outputs := setUp(t, c, tc.name, tc.deploy)
			var out bytes.Buffer
			v := &verify.Verifier{ECS: c.ecs, ELB: c.elb, HTTP: &http.Client{Timeout: time.Second}, Out: &out, Interval: 300 * time.Millisecond}
			start := time.Now()
			err := v.Run(context.Background(), outputs, 1500*time.Millisecond)
			if tc.wantErr != (err != nil) || (err != nil && !errors.Is(err, verify.ErrFailed)) {
				t.Errorf("error %v, want failure=%v\n%s", err, tc.wantErr, out.String())
			}
			for _, w := range tc.want {
				if !strings.Contains(out.String(), w) {
					t.Errorf("output lacks %q:\n%s", w, out.String())
				}
			}
			if tc.quick && time.Since(start) > time.Second {
				t.Errorf("a rollback took %s to report; it should not wait for convergence", time.Since(start))
			}
		})
	}
}

func TestParseOutputs(t *testing.T) {
	full := `{"region":"us-east-1","clusterName":"c","serviceName":"s","taskDefinitionArn":"arn:td/x:1",
	  "targetGroupArn":"arn:tg","url":"http://lb","vpcId":"vpc-1"}`
	o, err := verify.ParseOutputs(strings.NewReader(full))
	if err != nil || o.HealthCheckPath != "/" || o.ClusterName != "c" {
		t.Errorf("outputs %+v, error %v", o, err)
	}
	withDomain := strings.TrimSuffix(full, "}") + `,"certificateArn":"arn:aws:acm:c","domainNames":["api.example.com","www.example.com"]}`
	if o, err := verify.ParseOutputs(strings.NewReader(withDomain)); err != nil || o.CertificateArn != "arn:aws:acm:c" || len(o.DomainNames) != 2 {
		t.Errorf("outputs with a domain %+v, error %v", o, err)
	}
	if _, err := verify.ParseOutputs(strings.NewReader(`{"region":"us-east-1"}`)); err == nil ||
		!strings.Contains(err.Error(), "clusterName, serviceName, targetGroupArn, taskDefinitionArn, url") {
		t.Errorf("missing outputs: error %v", err)
	}
	if _, err := verify.ParseOutputs(strings.NewReader(`not json`)); err == nil || !strings.Contains(err.Error(), "pulumi stack output --json") {
		t.Errorf("bad JSON: error %v", err)
	}
}

// importCertificate imports a self-signed certificate for names into the emulator, which reports it
// ISSUED, as ACM does for an issued one.
func importCertificate(t *testing.T, c clients, names ...string) string {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: names[0]}, DNSNames: names,
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	out, err := c.acm.ImportCertificate(context.Background(), &acm.ImportCertificateInput{
		Certificate: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		PrivateKey:  pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}),
	})
	if err != nil {
		t.Fatal(err)
	}
	return aws.ToString(out.CertificateArn)
}

// TestCertificateCheckAgainstTheEmulator: with a domain, the deploy is verified only once its
// certificate is issued and covers every name it serves.
func TestCertificateCheckAgainstTheEmulator(t *testing.T) {
	c := newClients(motoserver.Endpoint(t))
	issued := importCertificate(t, c, "api.example.com", "www.example.com")
	pending, err := c.acm.RequestCertificate(context.Background(), &acm.RequestCertificateInput{
		DomainName: aws.String("api.example.org"), ValidationMethod: "DNS",
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, cert string
		names      []string
		wantErr    bool
		want       string
	}{
		{"issued", issued, []string{"api.example.com", "www.example.com"}, false, "PASS  certificate  issued for api.example.com, www.example.com"},
		{"name-not-covered", issued, []string{"api.example.com", "shop.example.com"}, true, "FAIL  certificate  certificate api.example.com does not cover shop.example.com"},
		{"pending", aws.ToString(pending.CertificateArn), []string{"api.example.org"}, true, "FAIL  certificate  certificate api.example.org is PENDING_VALIDATION"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			outputs := setUp(t, c, "cert-"+tc.name, deploy{desired: motoserver.RunningTasks, targets: "healthy", appUp: true})
			outputs.CertificateArn, outputs.DomainNames = tc.cert, tc.names
			var out bytes.Buffer
			v := &verify.Verifier{ECS: c.ecs, ELB: c.elb, ACM: c.acm, HTTP: &http.Client{Timeout: time.Second}, Out: &out, Interval: 300 * time.Millisecond}
			err := v.Run(context.Background(), outputs, 700*time.Millisecond)
			if tc.wantErr != (err != nil) {
				t.Errorf("error %v, want failure=%v\n%s", err, tc.wantErr, out.String())
			}
			if !strings.Contains(out.String(), tc.want) {
				t.Errorf("output lacks %q:\n%s", tc.want, out.String())
			}
		})
	}
}
