//! ListMultipartUploads: the backend's own uploads (objects no policy transforms) merged with
//! the uploads Nexus stages (`.nexus-staging/`, [`super::multipart`]), in S3's order (by key,
//! then by initiation), with S3's markers, prefix, delimiter and page size.

use std::collections::BTreeSet;

use s3s::dto::{
    CommonPrefix, ListMultipartUploadsInput, ListMultipartUploadsOutput, MultipartUpload,
};
use s3s::{S3ErrorCode, S3Request, S3Response, S3Result};

use super::Frontend;
use super::transformed::shell;

/// S3's default and largest page.
const MAX_UPLOADS: usize = 1000;

fn after_markers(u: &MultipartUpload, key_marker: Option<&str>, id_marker: Option<&str>) -> bool {
    let key = u.key.as_deref().unwrap_or_default();
    match (key_marker, id_marker) {
        (None, _) => true,
        (Some(k), None) => key > k,
        (Some(k), Some(id)) => {
            key > k || (key == k && u.upload_id.as_deref().unwrap_or_default() > id)
        }
    }
}

impl Frontend {
    pub(super) async fn list_uploads(
        &self,
        req: S3Request<ListMultipartUploadsInput>,
    ) -> S3Result<S3Response<ListMultipartUploadsOutput>> {
        let like = shell(&req);
        let input = req.input.clone();
        let prefix = input.prefix.clone().unwrap_or_default();
        let mut staged = self.staged_uploads(&like, &input.bucket, &prefix).await?;
        if staged.is_empty() {
            return self.store.list_multipart_uploads(req).await;
        }
        let mut out = match self.store.list_multipart_uploads(req).await {
            Ok(r) => r.output,
            // A backend without the operation (s3s-fs) still has the staged uploads.
            Err(e) if *e.code() == S3ErrorCode::NotImplemented => ListMultipartUploadsOutput {
                bucket: Some(input.bucket.clone()),
                prefix: input.prefix.clone(),
                delimiter: input.delimiter.clone(),
                key_marker: input.key_marker.clone(),
                upload_id_marker: input.upload_id_marker.clone(),
                ..ListMultipartUploadsOutput::default()
            },
            Err(e) => return Err(e),
        };
        let (key_marker, id_marker) = (
            input.key_marker.as_deref(),
            input.upload_id_marker.as_deref(),
        );
        staged.retain(|u| after_markers(u, key_marker, id_marker));
        // Entries beyond what the backend's truncated page covers come on a later page.
        let backend_truncated = out.is_truncated == Some(true);
        let backend_last = out.next_key_marker.clone();
        if backend_truncated && let Some(last) = &backend_last {
            staged.retain(|u| u.key.as_deref().unwrap_or_default() <= last.as_str());
        }
        // Delimiter: keys with the delimiter after the prefix roll up into common prefixes.
        let mut prefixes: BTreeSet<String> = out
            .common_prefixes
            .take()
            .unwrap_or_default()
            .into_iter()
            .filter_map(|p| p.prefix)
            .collect();
        if let Some(d) = input.delimiter.as_deref().filter(|d| !d.is_empty()) {
            staged.retain(|u| {
                let key = u.key.as_deref().unwrap_or_default();
                match key[prefix.len().min(key.len())..].find(d) {
                    Some(i) => {
                        prefixes.insert(key[..prefix.len() + i + d.len()].to_owned());
                        false
                    }
                    None => true,
                }
            });
        }
        let mut uploads = out.uploads.take().unwrap_or_default();
        uploads.extend(staged);
        uploads.sort_by(|a, b| {
            (
                a.key.as_deref(),
                a.initiated.as_ref().map(nexus_store::conditions::secs),
            )
                .cmp(&(
                    b.key.as_deref(),
                    b.initiated.as_ref().map(nexus_store::conditions::secs),
                ))
        });
        let max = input
            .max_uploads
            .and_then(|m| usize::try_from(m).ok())
            .map_or(MAX_UPLOADS, |m| m.min(MAX_UPLOADS));
        let cut = uploads.len() > max;
        uploads.truncate(max);
        if cut || backend_truncated {
            out.is_truncated = Some(true);
            if cut {
                let last = uploads.last();
                out.next_key_marker = last.and_then(|u| u.key.clone());
                out.next_upload_id_marker = last.and_then(|u| u.upload_id.clone());
            }
        } else {
            out.is_truncated = Some(false);
            out.next_key_marker = None;
            out.next_upload_id_marker = None;
        }
        out.uploads = Some(uploads);
        out.common_prefixes = (!prefixes.is_empty()).then(|| {
            prefixes
                .into_iter()
                .map(|p| CommonPrefix { prefix: Some(p) })
                .collect()
        });
        out.max_uploads = i32::try_from(max).ok();
        Ok(S3Response::new(out))
    }
}
