// gl-libcni runs one CNI verb on a network configuration through libcni, the
// library that multus, podman, containerd and CRI-O embed, so that the test
// suite sees what those runtimes do with conf/ exactly as shipped: libcni
// injects the list's name and cniVersion ("" when there is none), filters
// capability arguments through the plugin's "capabilities", caches the ADD
// result and hands it to CHECK and DEL as prevResult.
//
//	gl-libcni [flags] add|check|del|gc FILE
//
// FILE is a conflist (a "plugins" array: podman, containerd and CRI-O load it
// with ConfListFromBytes and call the *NetworkList functions) or the
// spec.config string of a NetworkAttachmentDefinition (multus: the object's
// name injected when the config has none, ConfFromBytes, the *Network
// functions). ADD prints the result as libcni returns it; every verb exits 1
// with the error on stderr when libcni or a plugin fails.
//
// GC: Debian 12's libcni (1.1.2) has no GCNetworkList; gc does what libcni
// 1.2's does for the plugins (version 1.1.0 and later only: the list's name and
// cniVersion and cni.dev/valid-attachments injected, GC exec'd on each plugin)
// with this libcni's own InjectConf and invoke, and prints "skipped" for an
// older version, where libcni 1.2 issues no GC either.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/containernetworking/cni/libcni"
	"github.com/containernetworking/cni/pkg/invoke"
	"github.com/containernetworking/cni/pkg/version"
)

type options struct {
	netns, ifname, id, args, caps, name, cache, path, valid string
}

func main() {
	var o options
	flag.StringVar(&o.netns, "netns", "", "CNI_NETNS")
	flag.StringVar(&o.ifname, "ifname", "eth0", "CNI_IFNAME")
	flag.StringVar(&o.id, "id", "", "CNI_CONTAINERID")
	flag.StringVar(&o.args, "args", "", "CNI_ARGS as K=V;K=V")
	flag.StringVar(&o.caps, "caps", "", "capability arguments as a JSON object (runtimeConfig, filtered by libcni)")
	flag.StringVar(&o.name, "name", "", "the NetworkAttachmentDefinition's name (injected when the config has none)")
	flag.StringVar(&o.cache, "cache", "", "libcni's cache directory")
	flag.StringVar(&o.path, "path", os.Getenv("CNI_PATH"), "plugin directories, ':'-separated")
	flag.StringVar(&o.valid, "valid", "[]", "gc: the valid attachments as JSON [{containerID, ifname}]")
	flag.Parse()
	if flag.NArg() != 2 {
		fmt.Fprintln(os.Stderr, "usage: gl-libcni [flags] add|check|del|gc FILE")
		os.Exit(64)
	}
	out, err := run(&o, flag.Arg(0), flag.Arg(1))
	if err != nil {
		fmt.Fprintf(os.Stderr, "gl-libcni %s: %v\n", flag.Arg(0), err)
		os.Exit(1)
	}
	if out != "" {
		fmt.Println(out)
	}
}

// A network as a runtime holds it: a list, or one plugin's config (multus).
type network struct {
	list *libcni.NetworkConfigList
	conf *libcni.NetworkConfig
}

func load(o *options, file string) (*network, error) {
	raw, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	var top map[string]interface{}
	if err := json.Unmarshal(raw, &top); err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	if _, ok := top["plugins"]; ok {
		list, err := libcni.ConfListFromBytes(raw)
		return &network{list: list}, err
	}
	// multus (GetCNIConfigFromSpec): the NAD's name when the config has none.
	if n, ok := top["name"]; !ok || n == "" {
		if o.name == "" {
			return nil, errors.New("a NAD config without name needs -name")
		}
		top["name"] = o.name
		if raw, err = json.Marshal(top); err != nil {
			return nil, err
		}
	}
	conf, err := libcni.ConfFromBytes(raw)
	return &network{conf: conf}, err
}

func runtimeConf(o *options) (*libcni.RuntimeConf, error) {
	rt := &libcni.RuntimeConf{ContainerID: o.id, NetNS: o.netns, IfName: o.ifname}
	for _, kv := range strings.Split(o.args, ";") {
		if kv == "" {
			continue
		}
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			return nil, fmt.Errorf("-args: %q is not K=V", kv)
		}
		rt.Args = append(rt.Args, [2]string{k, v})
	}
	if o.caps != "" {
		if err := json.Unmarshal([]byte(o.caps), &rt.CapabilityArgs); err != nil {
			return nil, fmt.Errorf("-caps: %w", err)
		}
	}
	return rt, nil
}

func run(o *options, verb, file string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	net, err := load(o, file)
	if err != nil {
		return "", err
	}
	rt, err := runtimeConf(o)
	if err != nil {
		return "", err
	}
	exec := &invoke.DefaultExec{RawExec: &invoke.RawExec{Stderr: os.Stderr}}
	cni := libcni.NewCNIConfigWithCacheDir(strings.Split(o.path, ":"), o.cache, exec)
	switch verb {
	case "add":
		if net.list != nil {
			r, err := cni.AddNetworkList(ctx, net.list, rt)
			if err != nil {
				return "", err
			}
			return encode(r)
		}
		r, err := cni.AddNetwork(ctx, net.conf, rt)
		if err != nil {
			return "", err
		}
		return encode(r)
	case "check":
		if net.list != nil {
			return "", cni.CheckNetworkList(ctx, net.list, rt)
		}
		return "", cni.CheckNetwork(ctx, net.conf, rt)
	case "del":
		if net.list != nil {
			return "", cni.DelNetworkList(ctx, net.list, rt)
		}
		return "", cni.DelNetwork(ctx, net.conf, rt)
	case "gc":
		list := net.list
		if list == nil {
			if list, err = libcni.ConfListFromConf(net.conf); err != nil {
				return "", err
			}
		}
		return gc(ctx, cni, exec, list, o)
	}
	return "", fmt.Errorf("unknown verb %q", verb)
}

func encode(r interface{}) (string, error) {
	b, err := json.Marshal(r)
	return string(b), err
}

// libcni 1.2's GCNetworkList, plugin part, with 1.1.2's pieces.
func gc(ctx context.Context, cni *libcni.CNIConfig, exec invoke.Exec, list *libcni.NetworkConfigList,
	o *options) (string, error) {
	var valid []map[string]string
	if err := json.Unmarshal([]byte(o.valid), &valid); err != nil {
		return "", fmt.Errorf("-valid: %w", err)
	}
	if gt, _ := version.GreaterThanOrEqualTo(list.CNIVersion, "1.1.0"); !gt {
		return "skipped", nil
	}
	inject := map[string]interface{}{
		"name":                      list.Name,
		"cniVersion":                list.CNIVersion,
		"cni.dev/valid-attachments": valid,
	}
	var errs []string
	for _, plugin := range list.Plugins {
		conf, err := libcni.InjectConf(plugin, inject)
		if err != nil {
			errs = append(errs, err.Error())
			continue
		}
		path, err := exec.FindInPath(conf.Network.Type, cni.Path)
		if err != nil {
			errs = append(errs, err.Error())
			continue
		}
		args := &invoke.Args{Command: "GC", Path: strings.Join(cni.Path, ":")}
		if err := invoke.ExecPluginWithoutResult(ctx, path, conf.Bytes, args, exec); err != nil {
			errs = append(errs, fmt.Sprintf("GC of plugin %s: %v", conf.Network.Type, err))
		}
	}
	if len(errs) > 0 {
		return "", errors.New(strings.Join(errs, "; "))
	}
	return "", nil
}
