#!/usr/bin/env python3
"""Fails (exit 1) when two modules of src/ use each other, directly or around a loop.

A module is a file (`src/report/rows.rs` is `report::rows`, a `mod.rs` its folder). Module A
uses B when A names `crate::B...`, `super::...` resolving to B, or its child B by a relative
path; `mod` declarations and `#[cfg(test)]` code do not count. Usage: scripts/module_cycles.py [SRC]
"""
import os,re,sys,itertools
root=sys.argv[1] if len(sys.argv)>1 else 'src'
mods={}
for d,_,fs in os.walk(root):
    for f in fs:
        if not f.endswith('.rs'): continue
        p=os.path.join(d,f); rel=os.path.relpath(p,root)[:-3].split(os.sep)
        if rel[-1] in('mod','lib','main'): rel=rel[:-1]
        mods['::'.join(rel)]=open(p).read()
names=set(mods)
def resolve(path):
    parts=path.split('::')
    best=None
    for i in range(len(parts),0,-1):
        m='::'.join(parts[:i])
        if m in names: return m
    return ''
edges={m:set() for m in mods}
for m,src in mods.items():
    # strip comments
    src=re.sub(r'//[^\n]*','',src)
    # cut test modules
    i=src.find('#[cfg(test)]')
    if i>=0: src=src[:i]
    # expand use groups crudely: crate::a::{b, c::d}
    for mt in re.finditer(r'\b(crate|super)((?:::\w+)+)(::\{([^;]*?)\})?',src):
        base=mt.group(1); rest=mt.group(2).strip(':')
        if base=='crate': prefix=rest
        else:
            cur=m.split('::') if m else []
            # super from a file module: parent
            segs=rest.split('::')
            cur=cur[:-1]
            while segs and segs[0]=='super': cur=cur[:-1]; segs=segs[1:]
            prefix='::'.join(cur+segs)
        targets=[prefix]
        if mt.group(4):
            for item in re.split(r',',mt.group(4)):
                item=item.strip().split(' ')[0].strip('{}')
                if item and item!='self': targets.append(prefix+'::'+item)
        for t in targets:
            pass
        for t in targets:
            r=resolve(t)
            if r and r!=m: edges[m].add(r)
for m,src in mods.items():
    src=re.sub(r'//[^\n]*','',src)
    i=src.find('#[cfg(test)]')
    if i>=0: src=src[:i]
    pre=(m+'::') if m else ''
    for c in names:
        if c.startswith(pre) and c!=m and '::' not in c[len(pre):]:
            child=c[len(pre):]
            if re.search(r'(?<![:\w])(self::)?'+child+r'::',src): edges[m].add(c)
# find SCCs
index={};low={};st=[];on=set();sccs=[];c=[0]
sys.setrecursionlimit(10000)
def sc(v):
    index[v]=low[v]=c[0];c[0]+=1;st.append(v);on.add(v)
    for w in edges[v]:
        if w not in index: sc(w);low[v]=min(low[v],low[w])
        elif w in on: low[v]=min(low[v],index[w])
    if low[v]==index[v]:
        comp=[]
        while True:
            w=st.pop();on.discard(w);comp.append(w)
            if w==v:break
        if len(comp)>1: sccs.append(comp)
for v in edges:
    if v not in index: sc(v)
for comp in sccs:
    print('CYCLE:',sorted(comp))
    for a in sorted(comp):
        print('   ',a,'->',sorted(e for e in edges[a] if e in comp))
print(f'{len(sccs)} import cycles between modules of {root}')
sys.exit(1 if sccs else 0)
